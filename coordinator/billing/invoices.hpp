#pragma once
// Invoices (tables invoices, invoice_lines and invoice_counters, migrations/0016_invoices.sql):
// issued inside the caller's transaction with the next number of the year (INV-2026-000042,
// gapless: a rolled-back issue gives its number back), immutable once issued except for their
// status (issued -> paid or issued -> void), with the buyer's billing details copied at issue
// time. Amounts are integer minor units of the invoice's currency; each line's tax is
// line_tax(amount, rate) (tax.hpp). Expected failures throw billing_error. Blocking calls: run
// them on the database's worker threads.
#include <pqxx/pqxx>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vpsfleet::billing {

using time_point = std::chrono::system_clock::time_point;

struct draft_line {
    std::string description;
    int quantity = 1;
    std::int64_t unit_amount = 0;  // minor units, excluding tax
    // The currency unit_amount is in; empty means the invoice's. Any other is refused.
    std::string currency;
    std::optional<std::int64_t> instance_id;
    std::optional<time_point> period_start;
    std::optional<time_point> period_end;
};

struct invoice_draft {
    std::int64_t user_id = 0;
    std::string currency;                    // ISO 4217, upper case
    std::optional<std::string> tax_country;  // ISO 3166 alpha-2, shown on the invoice
    int tax_rate_bp = 0;                     // e.g. tax_rates::rate_for(tax_country)
    std::vector<draft_line> lines;
    std::optional<time_point> period_start;
    std::optional<time_point> period_end;
    // Issuing again with the same key returns the invoice issued first (whatever this draft
    // says) instead of a second one; a key another account used is refused.
    std::optional<std::string> idempotency_key;
    // When the invoice is dated, which also picks its year's numbering; empty: the
    // transaction's now(). For tests and an injected clock: numbers follow issue order, so
    // backdating past another issued invoice of the year would put the numbers out of date order.
    std::optional<time_point> issued_at;
    // The company (companies table) the invoice is issued in the name of: its name, address,
    // tax id, email and phone are copied onto the invoice. Empty: the configured seller.
    std::optional<std::int64_t> seller_company_id;
};

struct invoice_line {
    int position = 0;  // 1..n
    std::string description;
    int quantity = 0;
    std::int64_t unit_amount = 0;
    std::int64_t amount = 0;  // quantity * unit_amount
    std::int64_t tax = 0;     // line_tax(amount, invoice tax_rate_bp)
    std::optional<std::int64_t> instance_id;
    std::optional<time_point> period_start;
    std::optional<time_point> period_end;
};

// The buyer as the account's billing details said when the invoice was issued.
struct buyer_snapshot {
    std::optional<std::string> name;
    std::optional<std::string> address_1;
    std::optional<std::string> address_2;
    std::optional<std::string> city;
    std::optional<std::string> state;
    std::optional<std::string> postcode;
    std::optional<std::string> tax_id;
    std::string email;
};

// The company an invoice was issued in the name of, as it was at issue time.
struct seller_snapshot {
    std::int64_t company_id = 0;
    std::string name;
    std::vector<std::string> address_lines;  // street lines, postcode and city, state, country
    std::optional<std::string> tax_id;
    std::optional<std::string> email;
    std::optional<std::string> phone;
};

struct invoice {
    std::int64_t id = 0;
    std::string uid;  // inv_...
    std::int64_t user_id = 0;
    int year = 0;
    int seq = 0;
    std::string number;  // INV-2026-000042
    std::string status;  // issued, paid, void
    std::string currency;
    std::int64_t subtotal = 0;
    std::int64_t tax = 0;
    std::int64_t total = 0;  // subtotal + tax
    int tax_rate_bp = 0;
    std::optional<std::string> tax_country;
    buyer_snapshot buyer;
    std::optional<seller_snapshot> seller;  // empty: issued by the configured seller
    time_point issued_at;
    std::optional<time_point> paid_at;
    std::optional<time_point> voided_at;
    std::optional<time_point> period_start;
    std::optional<time_point> period_end;
    std::optional<std::string> idempotency_key;
    std::vector<invoice_line> lines;
};

// The lines of a draft priced and checked, without touching the database: amount, tax and
// position of each line, and the sums. Throws billing_error for a draft that cannot be issued:
// empty_invoice, mixed_currencies, negative_amount, invalid_quantity, invalid_description,
// invalid_currency, invalid_tax_rate, invalid_tax_country, invalid_period, amount_too_large.
struct priced_draft {
    std::vector<invoice_line> lines;
    std::int64_t subtotal = 0;
    std::int64_t tax = 0;
    std::int64_t total = 0;
};
priced_draft price_draft(const invoice_draft& draft);

// "INV-2026-000042".
std::string invoice_number(int year, int seq);

// The company of the region the instance's host is in; for an instance with no host yet, the
// company every enabled region belongs to, if they all belong to one. nullopt otherwise.
std::optional<std::int64_t> company_of_instance(pqxx::transaction_base& tx,
                                                std::int64_t instance_id);

// Issues the draft in the caller's transaction: the invoice exists, and its number is spent,
// exactly when the transaction commits. Issuers of one year queue on the year's counter until
// the one ahead commits or rolls back, so keep the transaction short. Concurrent issues with one
// idempotency key queue too and yield one invoice, at pqxx::work's READ COMMITTED isolation.
// Throws billing_error as price_draft does, user_not_found, company_not_found and
// idempotency_key_reused.
invoice issue_invoice(pqxx::work& tx, const invoice_draft& draft);

// nullopt when no invoice has that uid. The caller checks the invoice's user_id against who asks.
std::optional<invoice> get_invoice(pqxx::transaction_base& tx, const std::string& uid);
std::optional<invoice> get_invoice(pqxx::connection& conn, const std::string& uid);

// A user's invoices, newest first, lines included; `before`: the id of the last invoice of the
// previous page. limit is clamped to 1..100.
std::vector<invoice> list_invoices(pqxx::transaction_base& tx, std::int64_t user_id, int limit,
                                   std::optional<std::int64_t> before = std::nullopt);
std::vector<invoice> list_invoices(pqxx::connection& conn, std::int64_t user_id, int limit,
                                   std::optional<std::int64_t> before = std::nullopt);

// issued -> paid, paid_at = the transaction's now() (or `at`). An invoice already paid is
// returned as it is (payment webhooks repeat); a void one throws billing_error invalid_status;
// an unknown id invoice_not_found.
invoice mark_paid(pqxx::work& tx, std::int64_t id, std::optional<time_point> at = std::nullopt);

// issued -> void. A void invoice is returned as it is; a paid one throws invalid_status (refund
// it instead); an unknown id invoice_not_found.
invoice void_invoice(pqxx::work& tx, std::int64_t id);

}  // namespace vpsfleet::billing
