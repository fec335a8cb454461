#include "coordinator/billing/money.hpp"

#include <array>
#include <cstdint>

namespace vpsfleet::billing {

namespace {

// The ISO 4217 currencies whose minor unit is not 2 digits; every other code has 2.
struct exponent_entry {
    std::string_view code;
    int exponent;
};
constexpr std::array<exponent_entry, 26> k_exponents{{
    {"BHD", 3}, {"BIF", 0}, {"CLF", 4}, {"CLP", 0}, {"DJF", 0}, {"GNF", 0}, {"IQD", 3},
    {"ISK", 0}, {"JOD", 3}, {"JPY", 0}, {"KMF", 0}, {"KRW", 0}, {"KWD", 3}, {"LYD", 3},
    {"OMR", 3}, {"PYG", 0}, {"RWF", 0}, {"TND", 3}, {"UGX", 0}, {"UYI", 0}, {"UYW", 4},
    {"VND", 0}, {"VUV", 0}, {"XAF", 0}, {"XOF", 0}, {"XPF", 0},
}};

}  // namespace

bool is_currency_code(std::string_view currency) {
    if (currency.size() != 3) return false;
    for (const char c : currency)
        if (c < 'A' || c > 'Z') return false;
    return true;
}

int currency_exponent(std::string_view currency) {
    for (const auto& e : k_exponents)
        if (e.code == currency) return e.exponent;
    return 2;
}

std::string format_amount(std::int64_t minor, std::string_view currency) {
    const int exponent = currency_exponent(currency);
    // The magnitude as unsigned, so INT64_MIN has one too.
    const std::uint64_t magnitude =
        minor < 0 ? 0 - static_cast<std::uint64_t>(minor) : static_cast<std::uint64_t>(minor);
    std::uint64_t unit = 1;
    for (int i = 0; i < exponent; ++i) unit *= 10;
    const std::uint64_t whole = magnitude / unit;
    const std::uint64_t fraction = magnitude % unit;

    const std::string digits = std::to_string(whole);
    std::string out;
    if (minor < 0) out += '-';
    for (std::size_t i = 0; i < digits.size(); ++i) {
        if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
        out += digits[i];
    }
    if (exponent > 0) {
        std::string f = std::to_string(fraction);
        out += '.';
        out.append(static_cast<std::size_t>(exponent) - f.size(), '0');
        out += f;
    }
    return out;
}

std::string format_money(std::int64_t minor, std::string_view currency) {
    return format_amount(minor, currency) + " " + std::string(currency);
}

}  // namespace vpsfleet::billing
