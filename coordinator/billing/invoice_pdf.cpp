#include "coordinator/billing/invoice_pdf.hpp"

#include "common/utc_time.hpp"
#include "coordinator/billing/money.hpp"
#include "coordinator/billing/tax.hpp"

#include <hpdf.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <stdexcept>

namespace vpsfleet::billing {

namespace {

// Unicode code points of CP1252's 0x80..0x9F (0: unassigned).
constexpr std::array<char32_t, 32> k_cp1252_high{
    0x20AC, 0,      0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0,      0x017D, 0,      0,      0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0,      0x017E, 0x0178,
};

char cp1252_byte(char32_t c) {
    if (c < 0x20 || c == 0x7F || (c >= 0x80 && c < 0xA0)) return ' ';
    if (c < 0x80 || (c >= 0xA0 && c <= 0xFF)) return static_cast<char>(c);
    for (std::size_t i = 0; i < k_cp1252_high.size(); ++i)
        if (k_cp1252_high[i] == c) return static_cast<char>(0x80 + i);
    return '?';
}

// A4 in points, and the page's furniture.
constexpr HPDF_REAL k_margin = 50;
constexpr HPDF_REAL k_right = 595.276f - k_margin;
constexpr HPDF_REAL k_top = 841.89f - k_margin;
// Table columns: the description's left edge and width, then the numbers' right edges.
constexpr HPDF_REAL k_desc_width = 235;
constexpr HPDF_REAL k_qty_right = 330;
constexpr HPDF_REAL k_unit_right = 405;
constexpr HPDF_REAL k_amount_right = 478;
constexpr HPDF_REAL k_tax_right = k_right;
constexpr HPDF_REAL k_line_height = 12;

std::string date_of(time_point t) { return utc_format(t, "%Y-%m-%d"); }

std::string period_of(const std::optional<time_point>& start,
                      const std::optional<time_point>& end) {
    if (!start && !end) return "";
    // "–" is CP1252's en dash once converted.
    return (start ? date_of(*start) : "") + " \xE2\x80\x93 " + (end ? date_of(*end) : "");
}

struct haru_error {
    HPDF_STATUS error = 0;
    HPDF_STATUS detail = 0;
};

void HPDF_STDCALL record_error(HPDF_STATUS error, HPDF_STATUS detail, void* user) {
    // Reading the finished file to its end is no failure.
    if (error == HPDF_STREAM_EOF) return;
    auto* e = static_cast<haru_error*>(user);
    if (e->error == 0) *e = {error, detail};
}

// One document being drawn: the current page, the pen's height on it, and text helpers that
// take UTF-8 and set it in CP1252.
class writer {
  public:
    explicit writer(HPDF_REAL bottom) : bottom_(bottom) {
        pdf_ = HPDF_New(record_error, &error_);
        if (pdf_ == nullptr) throw std::runtime_error("libharu: cannot create a document");
        HPDF_SetCompressionMode(pdf_, HPDF_COMP_ALL);
        regular_ = HPDF_GetFont(pdf_, "Helvetica", "WinAnsiEncoding");
        bold_ = HPDF_GetFont(pdf_, "Helvetica-Bold", "WinAnsiEncoding");
        check();
    }
    ~writer() { HPDF_Free(pdf_); }
    writer(const writer&) = delete;
    writer& operator=(const writer&) = delete;

    void check() const {
        if (error_.error != 0)
            throw std::runtime_error("libharu failed rendering the invoice: error " +
                                     std::to_string(error_.error) + ", detail " +
                                     std::to_string(error_.detail));
    }

    HPDF_Doc doc() { return pdf_; }
    const std::vector<HPDF_Page>& pages() const { return pages_; }
    HPDF_REAL y = k_top;

    void new_page() {
        page_ = HPDF_AddPage(pdf_);
        HPDF_Page_SetSize(page_, HPDF_PAGE_SIZE_A4, HPDF_PAGE_PORTRAIT);
        pages_.push_back(page_);
        y = k_top;
        check();
    }
    // True when `height` more points fit above the footer.
    bool fits(HPDF_REAL height) const { return y - height >= bottom_; }

    void font(bool bold, HPDF_REAL size, float gray = 0) {
        HPDF_Page_SetFontAndSize(page_, bold ? bold_ : regular_, size);
        HPDF_Page_SetGrayFill(page_, gray);
    }
    void text(HPDF_REAL x, HPDF_REAL at, std::string_view utf8) { put(x, at, to_win_ansi(utf8)); }
    void text_right(HPDF_REAL right, HPDF_REAL at, std::string_view utf8) {
        const std::string s = to_win_ansi(utf8);
        put(right - HPDF_Page_TextWidth(page_, s.c_str()), at, s);
    }
    // The text in lines no wider than `width`, broken at spaces where possible.
    std::vector<std::string> wrap(std::string_view utf8, HPDF_REAL width) {
        std::vector<std::string> out;
        std::string rest = to_win_ansi(utf8);
        while (!rest.empty()) {
            HPDF_REAL used = 0;
            auto n = HPDF_Page_MeasureText(page_, rest.c_str(), width, HPDF_TRUE, &used);
            if (n == 0) n = HPDF_Page_MeasureText(page_, rest.c_str(), width, HPDF_FALSE, &used);
            if (n == 0) n = 1;
            std::string line = rest.substr(0, n);
            while (!line.empty() && line.back() == ' ') line.pop_back();
            out.push_back(std::move(line));
            rest.erase(0, n);
            while (!rest.empty() && rest.front() == ' ') rest.erase(0, 1);
        }
        return out;
    }
    // Already CP1252 (from wrap).
    void raw_text(HPDF_REAL x, HPDF_REAL at, const std::string& cp1252) { put(x, at, cp1252); }

    void rule(HPDF_REAL at, HPDF_REAL from = k_margin, HPDF_REAL to = k_right) {
        HPDF_Page_SetGrayStroke(page_, 0.6f);
        HPDF_Page_SetLineWidth(page_, 0.5f);
        HPDF_Page_MoveTo(page_, from, at);
        HPDF_Page_LineTo(page_, to, at);
        HPDF_Page_Stroke(page_);
    }
    void band(HPDF_REAL bottom, HPDF_REAL height) {
        HPDF_Page_SetGrayFill(page_, 0.92f);
        HPDF_Page_Rectangle(page_, k_margin - 4, bottom, k_right - k_margin + 8, height);
        HPDF_Page_Fill(page_);
    }

    void use_page(HPDF_Page p) { page_ = p; }

  private:
    void put(HPDF_REAL x, HPDF_REAL at, const std::string& cp1252) {
        HPDF_Page_BeginText(page_);
        HPDF_Page_TextOut(page_, x, at, cp1252.c_str());
        HPDF_Page_EndText(page_);
    }

    HPDF_Doc pdf_ = nullptr;
    haru_error error_;
    HPDF_Font regular_ = nullptr;
    HPDF_Font bold_ = nullptr;
    HPDF_Page page_ = nullptr;
    std::vector<HPDF_Page> pages_;
    HPDF_REAL bottom_;
};

// Seller top left, title and invoice facts top right, the buyer below.
void draw_heading(writer& w, const invoice& inv, const seller_info& seller) {
    HPDF_REAL left = w.y;
    w.font(true, 13);
    w.text(k_margin, left - 13, seller.name);
    left -= 30;
    w.font(false, 9, 0.25f);
    std::vector<std::string> seller_lines = seller.address_lines;
    if (!seller.vat_id.empty()) seller_lines.push_back("VAT ID: " + seller.vat_id);
    if (!seller.email.empty()) seller_lines.push_back(seller.email);
    if (!seller.phone.empty()) seller_lines.push_back("Phone: " + seller.phone);
    for (const auto& l : seller_lines) {
        w.text(k_margin, left, l);
        left -= 11;
    }

    HPDF_REAL right = w.y;
    w.font(true, 22);
    w.text_right(k_right, right - 20, inv.status == "void" ? "INVOICE (VOID)" : "INVOICE");
    right -= 40;
    std::vector<std::pair<std::string, std::string>> facts{
        {"Invoice number", inv.number},
        {"Issue date", date_of(inv.issued_at)},
    };
    if (inv.period_start || inv.period_end)
        facts.emplace_back("Period", period_of(inv.period_start, inv.period_end));
    if (inv.status == "paid" && inv.paid_at) facts.emplace_back("Paid", date_of(*inv.paid_at));
    if (inv.status == "void" && inv.voided_at)
        facts.emplace_back("Voided", date_of(*inv.voided_at));
    for (const auto& [label, value] : facts) {
        w.font(false, 9, 0.4f);
        w.text(360, right, label);
        w.font(label == "Invoice number", 9);
        w.text_right(k_right, right, value);
        right -= 13;
    }

    w.y = std::min(left, right) - 20;
    w.font(true, 10);
    w.text(k_margin, w.y, "Bill to");
    w.y -= 14;
    const auto& b = inv.buyer;
    std::vector<std::string> buyer_lines;
    buyer_lines.push_back(b.name.value_or(b.email));
    for (const auto* part : {&b.address_1, &b.address_2})
        if (*part && !part->value().empty()) buyer_lines.push_back(**part);
    std::string town = b.postcode.value_or("");
    if (b.city && !b.city->empty()) town += (town.empty() ? "" : " ") + *b.city;
    if (!town.empty()) buyer_lines.push_back(town);
    if (b.state && !b.state->empty()) buyer_lines.push_back(*b.state);
    if (inv.tax_country) buyer_lines.push_back(*inv.tax_country);
    if (b.tax_id && !b.tax_id->empty()) buyer_lines.push_back("VAT ID: " + *b.tax_id);
    if (b.name) buyer_lines.push_back(b.email);
    w.font(false, 10);
    for (const auto& l : buyer_lines) {
        w.text(k_margin, w.y, l);
        w.y -= 12;
    }
    w.y -= 14;
}

void draw_table_header(writer& w, const invoice& inv) {
    w.font(false, 8, 0.4f);
    w.text(k_margin, w.y, "Amounts in " + inv.currency);
    w.y -= 16;
    w.band(w.y - 4, 15);
    w.font(true, 9);
    w.text(k_margin, w.y, "Description");
    w.text_right(k_qty_right, w.y, "Qty");
    w.text_right(k_unit_right, w.y, "Unit price");
    w.text_right(k_amount_right, w.y, "Amount");
    w.text_right(k_tax_right, w.y, "Tax " + format_tax_rate(inv.tax_rate_bp));
    w.y -= 18;
}

void continue_on_new_page(writer& w, const invoice& inv) {
    w.new_page();
    w.font(false, 9, 0.4f);
    w.text(k_margin, w.y, inv.number + " (continued)");
    w.y -= 24;
}

void draw_line(writer& w, const invoice& inv, const invoice_line& l) {
    w.font(false, 10);
    auto rows = w.wrap(l.description, k_desc_width);
    const std::string period = period_of(l.period_start, l.period_end);
    const HPDF_REAL height =
        static_cast<HPDF_REAL>(rows.size()) * k_line_height + (period.empty() ? 0 : 10) + 6;
    if (!w.fits(height)) {
        continue_on_new_page(w, inv);
        draw_table_header(w, inv);
        w.font(false, 10);
    }
    const HPDF_REAL first = w.y;
    for (const auto& row : rows) {
        w.raw_text(k_margin, w.y, row);
        w.y -= k_line_height;
    }
    if (!period.empty()) {
        w.font(false, 8, 0.4f);
        w.text(k_margin, w.y + 2, period);
        w.y -= 10;
        w.font(false, 10);
    }
    w.text_right(k_qty_right, first, std::to_string(l.quantity));
    w.text_right(k_unit_right, first, format_amount(l.unit_amount, inv.currency));
    w.text_right(k_amount_right, first, format_amount(l.amount, inv.currency));
    w.text_right(k_tax_right, first, format_amount(l.tax, inv.currency));
    w.y -= 6;
    w.rule(w.y + 8);
}

void draw_totals(writer& w, const invoice& inv) {
    if (!w.fits(70)) continue_on_new_page(w, inv);
    w.y -= 8;
    std::string tax_label = "Tax " + format_tax_rate(inv.tax_rate_bp);
    if (inv.tax_country) tax_label += " (" + *inv.tax_country + ")";
    const std::array<std::pair<std::string, std::int64_t>, 3> rows{{
        {"Subtotal", inv.subtotal},
        {tax_label, inv.tax},
        {"Total", inv.total},
    }};
    for (const auto& [label, amount] : rows) {
        const bool total = label == "Total";
        if (total) {
            w.rule(w.y + 11, 340);
            w.y -= 3;
        }
        w.font(total, total ? 11 : 10);
        w.text_right(430, w.y, label);
        w.text_right(k_right, w.y, format_money(amount, inv.currency));
        w.y -= total ? 16 : 14;
    }
    if (inv.status == "paid" && inv.paid_at) {
        w.y -= 6;
        w.font(true, 10);
        w.text_right(k_right, w.y, "Paid on " + date_of(*inv.paid_at) + ". Thank you.");
    } else if (inv.status == "void") {
        w.y -= 6;
        w.font(true, 10);
        w.text_right(k_right, w.y, "This invoice is void and is not to be paid.");
    }
}

void draw_footers(writer& w, const invoice& inv, const seller_info& seller) {
    const auto& pages = w.pages();
    for (std::size_t i = 0; i < pages.size(); ++i) {
        w.use_page(pages[i]);
        HPDF_REAL at = k_margin - 10 + static_cast<HPDF_REAL>(seller.footer_lines.size()) * 10;
        w.rule(at + 12);
        w.font(false, 8, 0.4f);
        for (const auto& l : seller.footer_lines) {
            w.text(k_margin, at, l);
            at -= 10;
        }
        w.text_right(k_right, k_margin - 10,
                     inv.number + "  \xC2\xB7  page " + std::to_string(i + 1) + " of " +
                         std::to_string(pages.size()));
    }
}

HPDF_Date pdf_date(time_point t) {
    const std::tm tm = utc_fields(t);
    return HPDF_Date{tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec,         'Z',           0,          0};
}

}  // namespace

std::string to_win_ansi(std::string_view utf8) {
    std::string out;
    out.reserve(utf8.size());
    std::size_t i = 0;
    while (i < utf8.size()) {
        const auto lead = static_cast<unsigned char>(utf8[i]);
        int extra = 0;
        char32_t c = 0;
        if (lead < 0x80) {
            c = lead;
        } else if ((lead & 0xE0) == 0xC0) {
            extra = 1;
            c = lead & 0x1F;
        } else if ((lead & 0xF0) == 0xE0) {
            extra = 2;
            c = lead & 0x0F;
        } else if ((lead & 0xF8) == 0xF0) {
            extra = 3;
            c = lead & 0x07;
        } else {
            out += '?';
            ++i;
            continue;
        }
        bool valid = i + static_cast<std::size_t>(extra) < utf8.size();
        for (int k = 1; valid && k <= extra; ++k) {
            const auto cont = static_cast<unsigned char>(utf8[i + static_cast<std::size_t>(k)]);
            if ((cont & 0xC0) != 0x80) valid = false;
            c = (c << 6) | (cont & 0x3F);
        }
        // Overlong forms and surrogates are invalid too.
        constexpr std::array<char32_t, 4> k_min{0, 0x80, 0x800, 0x10000};
        if (!valid || c < k_min[static_cast<std::size_t>(extra)] || c > 0x10FFFF ||
            (c >= 0xD800 && c <= 0xDFFF)) {
            out += '?';
            ++i;
            continue;
        }
        out += cp1252_byte(c);
        i += static_cast<std::size_t>(extra) + 1;
    }
    return out;
}

std::string render_invoice_pdf(const invoice& inv, const seller_info& seller) {
    const HPDF_REAL bottom =
        k_margin + 24 + static_cast<HPDF_REAL>(seller.footer_lines.size()) * 10;
    writer w(bottom);
    const std::string title = to_win_ansi("Invoice " + inv.number);
    const std::string author = to_win_ansi(seller.name);
    HPDF_SetInfoAttr(w.doc(), HPDF_INFO_TITLE, title.c_str());
    HPDF_SetInfoAttr(w.doc(), HPDF_INFO_AUTHOR, author.c_str());
    HPDF_SetInfoAttr(w.doc(), HPDF_INFO_CREATOR, "vpsfleet");
    HPDF_SetInfoDateAttr(w.doc(), HPDF_INFO_CREATION_DATE, pdf_date(inv.issued_at));

    w.new_page();
    draw_heading(w, inv, seller);
    draw_table_header(w, inv);
    for (const auto& l : inv.lines) draw_line(w, inv, l);
    draw_totals(w, inv);
    draw_footers(w, inv, seller);
    w.check();

    const bool saved = HPDF_SaveToStream(w.doc()) == HPDF_OK;
    w.check();
    if (!saved) throw std::runtime_error("libharu could not write the invoice's PDF");
    HPDF_ResetStream(w.doc());
    std::string out(HPDF_GetStreamSize(w.doc()), '\0');
    HPDF_UINT32 size = static_cast<HPDF_UINT32>(out.size());
    HPDF_ReadFromStream(w.doc(), reinterpret_cast<HPDF_BYTE*>(out.data()), &size);
    w.check();
    if (size != out.size()) throw std::runtime_error("libharu returned a truncated PDF");
    return out;
}

}  // namespace vpsfleet::billing
