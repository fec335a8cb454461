#include "coordinator/billing/tax.hpp"

#include "coordinator/billing/billing_error.hpp"

#include <cstdint>

namespace vpsfleet::billing {

namespace {

bool rate_in_range(int bp) { return bp >= 0 && bp <= k_max_tax_rate_bp; }

}  // namespace

bool is_country_code(std::string_view country) {
    if (country.size() != 2) return false;
    for (const char c : country)
        if (c < 'A' || c > 'Z') return false;
    return true;
}

int tax_rates::rate_for(std::optional<std::string_view> country) const {
    if (country) {
        const auto it = by_country.find(*country);
        if (it != by_country.end()) return it->second;
    }
    return default_bp;
}

std::optional<std::string> check_tax_rates(const tax_rates& rates) {
    const auto range = "must be between 0 and " + std::to_string(k_max_tax_rate_bp) +
                       " basis points (" + std::to_string(k_max_tax_rate_bp) + " = 100%)";
    if (!rate_in_range(rates.default_bp))
        return "default: " + range + ", got " + std::to_string(rates.default_bp);
    for (const auto& [country, bp] : rates.by_country) {
        if (!is_country_code(country))
            return "by_country." + country + ": not an ISO 3166 alpha-2 code (like DK)";
        if (!rate_in_range(bp))
            return "by_country." + country + ": " + range + ", got " + std::to_string(bp);
    }
    return std::nullopt;
}

std::int64_t line_tax(std::int64_t amount, int rate_bp) {
    if (!rate_in_range(rate_bp))
        throw billing_error("invalid_tax_rate", "tax rate " + std::to_string(rate_bp) +
                                                    " basis points is outside 0..10000");
    // Round half up in integers: floor((|amount| * rate + 5000) / 10000). The product is taken
    // in 128 bits, so no amount overflows; the quotient is at most |amount|, so it fits back.
    const bool negative = amount < 0;
    const unsigned __int128 magnitude = negative ? 0 - static_cast<unsigned __int128>(amount)
                                                 : static_cast<unsigned __int128>(amount);
    const unsigned __int128 tax = (magnitude * static_cast<unsigned>(rate_bp) + 5000) / 10000;
    // Only INT64_MIN at 100 % gets here.
    if (tax > static_cast<unsigned __int128>(INT64_MAX))
        throw billing_error("amount_too_large", "the tax on this amount does not fit");
    return negative ? -static_cast<std::int64_t>(tax) : static_cast<std::int64_t>(tax);
}

std::string format_tax_rate(int rate_bp) {
    const int whole = rate_bp / 100;
    int fraction = rate_bp % 100;
    std::string out = std::to_string(whole);
    if (fraction != 0) {
        out += '.';
        if (fraction < 10) out += '0';
        if (fraction % 10 == 0) fraction /= 10;
        out += std::to_string(fraction);
    }
    return out + "%";
}

}  // namespace vpsfleet::billing
