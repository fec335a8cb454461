#pragma once
// Sales tax (VAT) as a rate in basis points per country: 2500 is 25 %. Tax is computed per
// invoice line on the line's amount in minor units, by integer arithmetic only.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace vpsfleet::billing {

// 100 %: no real rate is higher, and anything above is a typo in the configuration.
inline constexpr int k_max_tax_rate_bp = 10000;

struct tax_rates {
    // For countries the map does not name, and for buyers without a country.
    int default_bp = 0;
    // ISO 3166-1 alpha-2 code ("DK") -> basis points.
    std::map<std::string, int, std::less<>> by_country;

    int rate_for(std::optional<std::string_view> country) const;
};

// What is wrong with the rates ("by_country.dk: not an ISO 3166 alpha-2 code (like DK)"), or
// nullopt. For the configuration loader.
std::optional<std::string> check_tax_rates(const tax_rates& rates);

// Two ASCII upper-case letters.
bool is_country_code(std::string_view country);

// The tax on one line: amount * rate_bp / 10000 rounded half up, i.e. to the nearest minor unit
// with exact halves going up (0.5 øre -> 1 øre, 0.4999 -> 0). A negative amount (a credit)
// gets the negated tax of its magnitude, so a credit note cancels its invoice to the unit.
// Throws billing_error invalid_tax_rate for a rate outside 0..k_max_tax_rate_bp.
std::int64_t line_tax(std::int64_t amount, int rate_bp);

// The rate as people write it: 2500 -> "25%", 1250 -> "12.5%", 725 -> "7.25%", 0 -> "0%".
std::string format_tax_rate(int rate_bp);

}  // namespace vpsfleet::billing
