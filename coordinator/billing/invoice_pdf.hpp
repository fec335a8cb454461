#pragma once
// An invoice as an A4 PDF (libharu): the seller and buyer blocks, number and dates, a table of
// lines (quantity, unit price, amount, tax) and the subtotal, tax and total. Text is set in the
// PDF's built-in Helvetica with WinAnsi (CP1252) encoding, so pdftotext and screen readers can
// read it back and Western European names ("Søren Ærø", "Müller", "€") come through; characters
// CP1252 lacks print as "?". Amounts are format_amount/format_money text (money.hpp): the total
// reads "1,250.00 DKK".
#include "coordinator/billing/invoices.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace vpsfleet::billing {

// Who issues the invoice: the company copied onto it, or the coordinator's configured seller.
struct seller_info {
    std::string name;
    std::vector<std::string> address_lines;
    std::string vat_id;                     // printed as "VAT ID: ..."; empty: left out
    std::string email;                      // empty: left out
    std::string phone;                      // printed as "Phone: ..."; empty: left out
    std::vector<std::string> footer_lines;  // payment details, registration; at the foot
};

// The PDF file's bytes. The same invoice and seller always give the same bytes (the PDF's dates
// are the invoice's). Throws std::runtime_error if libharu fails (out of memory).
std::string render_invoice_pdf(const invoice& inv, const seller_info& seller);

// UTF-8 text as Windows-1252 bytes for the PDF's fonts: characters CP1252 lacks become '?',
// control characters and invalid UTF-8 a space or '?' respectively.
std::string to_win_ansi(std::string_view utf8);

}  // namespace vpsfleet::billing
