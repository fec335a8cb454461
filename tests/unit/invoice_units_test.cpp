// Invoice arithmetic as pure functions: tax per line rounded half up at the .5 boundaries,
// amounts formatted from minor units for 2-, 0- and 3-digit currencies and negatives, a draft's
// lines priced and summed, the drafts that are refused, and text for the PDF's CP1252 fonts.
#include "coordinator/billing/billing_error.hpp"
#include "coordinator/billing/invoice_pdf.hpp"
#include "coordinator/billing/invoices.hpp"
#include "coordinator/billing/money.hpp"
#include "coordinator/billing/tax.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>

using namespace vpsfleet::billing;

namespace {

std::string refusal(const invoice_draft& d) {
    try {
        price_draft(d);
    } catch (const billing_error& e) {
        return e.code;
    }
    return "";
}

invoice_draft dkk_draft(std::vector<draft_line> lines, int rate_bp = 2500) {
    invoice_draft d;
    d.user_id = 1;
    d.currency = "DKK";
    d.tax_country = "DK";
    d.tax_rate_bp = rate_bp;
    d.lines = std::move(lines);
    return d;
}

draft_line line(std::int64_t unit, int quantity = 1, std::string description = "Server") {
    draft_line l;
    l.description = std::move(description);
    l.unit_amount = unit;
    l.quantity = quantity;
    return l;
}

}  // namespace

TEST(tax, line_tax_rounds_exact_halves_up_and_the_rest_to_nearest) {
    // 25 %: 2 øre -> 0.5 -> 1; 1 -> 0.25 -> 0; 3 -> 0.75 -> 1; 6 -> 1.5 -> 2; 10 -> 2.5 -> 3.
    EXPECT_EQ(line_tax(2, 2500), 1);
    EXPECT_EQ(line_tax(1, 2500), 0);
    EXPECT_EQ(line_tax(3, 2500), 1);
    EXPECT_EQ(line_tax(6, 2500), 2);
    EXPECT_EQ(line_tax(10, 2500), 3);
    EXPECT_EQ(line_tax(125, 2500), 31);  // 31.25
    EXPECT_EQ(line_tax(126, 2500), 32);  // 31.5
    EXPECT_EQ(line_tax(127, 2500), 32);  // 31.75
    // 12.5 %: 4 -> 0.5 -> 1, 3 -> 0.375 -> 0, 12 -> 1.5 -> 2.
    EXPECT_EQ(line_tax(4, 1250), 1);
    EXPECT_EQ(line_tax(3, 1250), 0);
    EXPECT_EQ(line_tax(12, 1250), 2);
    // 19 %: 50 -> 9.5 -> 10, 49 -> 9.31 -> 9.
    EXPECT_EQ(line_tax(50, 1900), 10);
    EXPECT_EQ(line_tax(49, 1900), 9);
    EXPECT_EQ(line_tax(99999, 2500), 25000);  // 24999.75
    EXPECT_EQ(line_tax(0, 2500), 0);
    EXPECT_EQ(line_tax(12345, 0), 0);
    EXPECT_EQ(line_tax(12345, 10000), 12345);
}

TEST(tax, a_credit_gets_the_negated_tax_of_the_same_debit) {
    EXPECT_EQ(line_tax(-2, 2500), -1);
    EXPECT_EQ(line_tax(-6, 2500), -2);
    EXPECT_EQ(line_tax(-1, 2500), 0);
    for (std::int64_t a : {1, 2, 3, 6, 125, 126, 99999})
        EXPECT_EQ(line_tax(-a, 2500), -line_tax(a, 2500)) << a;
}

TEST(tax, line_tax_is_exact_for_amounts_near_the_64_bit_limit) {
    constexpr auto max = std::numeric_limits<std::int64_t>::max();
    // 9223372036854775807 / 4 = 2305843009213693951.75, rounded up.
    EXPECT_EQ(line_tax(max, 2500), 2305843009213693952);
    EXPECT_EQ(line_tax(max, 10000), max);
    EXPECT_EQ(line_tax(-max, 2500), -2305843009213693952);
}

TEST(tax, refuses_rates_outside_zero_to_one_hundred_percent) {
    EXPECT_THROW(line_tax(100, -1), billing_error);
    EXPECT_THROW(line_tax(100, 10001), billing_error);
}

TEST(tax, rates_by_country_fall_back_to_the_default) {
    tax_rates rates;
    rates.default_bp = 2000;
    rates.by_country = {{"DK", 2500}, {"DE", 1900}};
    EXPECT_EQ(rates.rate_for("DK"), 2500);
    EXPECT_EQ(rates.rate_for("DE"), 1900);
    EXPECT_EQ(rates.rate_for("SE"), 2000);
    EXPECT_EQ(rates.rate_for(std::nullopt), 2000);
    EXPECT_EQ(check_tax_rates(rates), std::nullopt);

    rates.by_country["dk"] = 2500;
    EXPECT_NE(check_tax_rates(rates).value_or("").find("by_country.dk"), std::string::npos);
    rates.by_country.erase("dk");
    rates.by_country["NO"] = 25000;
    EXPECT_NE(check_tax_rates(rates).value_or("").find("by_country.NO"), std::string::npos);
}

TEST(tax, rates_read_as_percentages) {
    EXPECT_EQ(format_tax_rate(2500), "25%");
    EXPECT_EQ(format_tax_rate(1250), "12.5%");
    EXPECT_EQ(format_tax_rate(725), "7.25%");
    EXPECT_EQ(format_tax_rate(5), "0.05%");
    EXPECT_EQ(format_tax_rate(0), "0%");
    EXPECT_EQ(format_tax_rate(10000), "100%");
}

TEST(money, currency_exponents_follow_iso_4217) {
    EXPECT_EQ(currency_exponent("DKK"), 2);
    EXPECT_EQ(currency_exponent("EUR"), 2);
    EXPECT_EQ(currency_exponent("USD"), 2);
    EXPECT_EQ(currency_exponent("JPY"), 0);
    EXPECT_EQ(currency_exponent("KRW"), 0);
    EXPECT_EQ(currency_exponent("ISK"), 0);
    EXPECT_EQ(currency_exponent("KWD"), 3);
    EXPECT_EQ(currency_exponent("CLF"), 4);
    EXPECT_TRUE(is_currency_code("DKK"));
    EXPECT_FALSE(is_currency_code("dkk"));
    EXPECT_FALSE(is_currency_code("DK"));
    EXPECT_FALSE(is_currency_code("DKKK"));
}

TEST(money, formats_minor_units_with_thousands_and_the_currency) {
    EXPECT_EQ(format_money(125000, "DKK"), "1,250.00 DKK");
    EXPECT_EQ(format_money(0, "DKK"), "0.00 DKK");
    EXPECT_EQ(format_money(5, "DKK"), "0.05 DKK");
    EXPECT_EQ(format_money(99, "DKK"), "0.99 DKK");
    EXPECT_EQ(format_money(100000, "DKK"), "1,000.00 DKK");
    EXPECT_EQ(format_money(99999, "DKK"), "999.99 DKK");
    EXPECT_EQ(format_money(123456789, "EUR"), "1,234,567.89 EUR");
    EXPECT_EQ(format_money(1250, "JPY"), "1,250 JPY");
    EXPECT_EQ(format_money(999, "JPY"), "999 JPY");
    EXPECT_EQ(format_money(1000000, "KRW"), "1,000,000 KRW");
    EXPECT_EQ(format_money(1234, "KWD"), "1.234 KWD");
    EXPECT_EQ(format_amount(125000, "DKK"), "1,250.00");
}

TEST(money, formats_negative_amounts_with_a_leading_minus) {
    EXPECT_EQ(format_money(-5, "EUR"), "-0.05 EUR");
    EXPECT_EQ(format_money(-125000, "DKK"), "-1,250.00 DKK");
    EXPECT_EQ(format_money(-1000000, "JPY"), "-1,000,000 JPY");
    EXPECT_EQ(format_money(std::numeric_limits<std::int64_t>::min(), "EUR"),
              "-92,233,720,368,547,758.08 EUR");
    EXPECT_EQ(format_money(std::numeric_limits<std::int64_t>::max(), "JPY"),
              "9,223,372,036,854,775,807 JPY");
}

TEST(invoice_draft, prices_each_line_and_sums_them) {
    const auto p = price_draft(dkk_draft({line(40000, 2), line(333), line(2, 3)}));
    ASSERT_EQ(p.lines.size(), 3u);
    EXPECT_EQ(p.lines[0].position, 1);
    EXPECT_EQ(p.lines[0].amount, 80000);
    EXPECT_EQ(p.lines[0].tax, 20000);
    EXPECT_EQ(p.lines[1].amount, 333);
    EXPECT_EQ(p.lines[1].tax, 83);  // 83.25
    EXPECT_EQ(p.lines[2].amount, 6);
    EXPECT_EQ(p.lines[2].tax, 2);  // 1.5
    EXPECT_EQ(p.subtotal, 80339);
    EXPECT_EQ(p.tax, 20085);
    EXPECT_EQ(p.total, 100424);
}

TEST(invoice_draft, tax_is_rounded_per_line_not_on_the_subtotal) {
    // Three lines of 2 øre at 25 %: each 0.5 -> 1, so 3; 6 øre on one line would be 1.5 -> 2.
    const auto p = price_draft(dkk_draft({line(2), line(2), line(2)}));
    EXPECT_EQ(p.subtotal, 6);
    EXPECT_EQ(p.tax, 3);
    EXPECT_EQ(p.total, 9);
}

TEST(invoice_draft, refuses_drafts_that_cannot_be_issued) {
    EXPECT_EQ(refusal(dkk_draft({})), "empty_invoice");
    auto euro = line(100);
    euro.currency = "EUR";
    EXPECT_EQ(refusal(dkk_draft({line(100), euro})), "mixed_currencies");
    auto same = line(100);
    same.currency = "DKK";
    EXPECT_EQ(refusal(dkk_draft({same})), "");
    EXPECT_EQ(refusal(dkk_draft({line(-1)})), "negative_amount");
    EXPECT_EQ(refusal(dkk_draft({line(100, 0)})), "invalid_quantity");
    EXPECT_EQ(refusal(dkk_draft({line(100, -2)})), "invalid_quantity");
    EXPECT_EQ(refusal(dkk_draft({line(100, 1, "  ")})), "invalid_description");
    EXPECT_EQ(refusal(dkk_draft({line(100)}, 10001)), "invalid_tax_rate");
    EXPECT_EQ(refusal(dkk_draft({line(std::numeric_limits<std::int64_t>::max(), 2)})),
              "amount_too_large");
    EXPECT_EQ(refusal(dkk_draft({line(std::numeric_limits<std::int64_t>::max() / 2),
                                 line(std::numeric_limits<std::int64_t>::max() / 2)})),
              "amount_too_large");

    auto lower = dkk_draft({line(100)});
    lower.currency = "dkk";
    EXPECT_EQ(refusal(lower), "invalid_currency");
    auto country = dkk_draft({line(100)});
    country.tax_country = "Denmark";
    EXPECT_EQ(refusal(country), "invalid_tax_country");
    auto backwards = dkk_draft({line(100)});
    backwards.period_start = std::chrono::system_clock::now();
    backwards.period_end = *backwards.period_start - std::chrono::hours(1);
    EXPECT_EQ(refusal(backwards), "invalid_period");
}

TEST(invoice_draft, numbers_have_the_year_and_six_digits_or_more) {
    EXPECT_EQ(invoice_number(2026, 42), "INV-2026-000042");
    EXPECT_EQ(invoice_number(2026, 1), "INV-2026-000001");
    EXPECT_EQ(invoice_number(2027, 999999), "INV-2027-999999");
    EXPECT_EQ(invoice_number(2027, 1234567), "INV-2027-1234567");
}

TEST(invoice_pdf_text, utf8_becomes_cp1252_and_the_rest_a_question_mark) {
    EXPECT_EQ(to_win_ansi("S\xC3\xB8ren \xC3\x86r\xC3\xB8"), "S\xF8ren \xC6r\xF8");  // Søren Ærø
    EXPECT_EQ(to_win_ansi("M\xC3\xBCller"), "M\xFCller");                            // Müller
    EXPECT_EQ(to_win_ansi("\xE2\x82\xAC"
                          "5 \xE2\x80\x93 6"),
              "\x80"
              "5 \x96 6");                                     // €5 – 6
    EXPECT_EQ(to_win_ansi("\xE6\x97\xA5\xE6\x9C\xAC"), "??");  // 日本
    EXPECT_EQ(to_win_ansi("\xF0\x9F\x98\x80!"), "?!");         // emoji
    EXPECT_EQ(to_win_ansi("a\nb\tc"), "a b c");
    EXPECT_EQ(to_win_ansi("bad \xFF byte"), "bad ? byte");
    EXPECT_EQ(to_win_ansi("cut \xC3"), "cut ?");
    EXPECT_EQ(to_win_ansi("overlong \xC0\xAF"), "overlong ??");
}
