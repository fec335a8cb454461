#pragma once
// Money as integer minor units of an ISO 4217 currency (øre, cents, yen): never a float. These
// turn an amount into the text people read on invoices, by integer arithmetic only.
#include <cstdint>
#include <string>
#include <string_view>

namespace vpsfleet::billing {

// Three ASCII upper-case letters ("DKK"); whether ISO 4217 lists it is not checked.
bool is_currency_code(std::string_view currency);

// How many minor-unit digits the currency has (ISO 4217): 2 for most, 0 for JPY, KRW, ISK and
// the other currencies without subunits, 3 for BHD, JOD, KWD, OMR, TND and the like, 4 for CLF.
int currency_exponent(std::string_view currency);

// The amount alone, with a comma every three digits and a point before the minor units, and a
// minus sign in front when negative: 125000 DKK -> "1,250.00", -5 EUR -> "-0.05",
// 1250 JPY -> "1,250".
std::string format_amount(std::int64_t minor, std::string_view currency);

// The amount followed by a space and the currency code: "1,250.00 DKK", "-0.05 EUR",
// "1,250 JPY". The same text for the same amount everywhere (PDFs, mails, the API's display
// strings), so customers can search their mail for it.
std::string format_money(std::int64_t minor, std::string_view currency);

}  // namespace vpsfleet::billing
