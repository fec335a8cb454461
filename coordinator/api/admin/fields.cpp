#include "coordinator/api/admin/fields.hpp"

#include "coordinator/store/json_fields.hpp"

#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <regex>

namespace vpsfleet::api::admin {

using json = nlohmann::json;

namespace {

int number(const std::string& digits) { return std::stoi(digits); }

}  // namespace

std::optional<std::string> one_of(const json& body, const std::string& field,
                                  std::initializer_list<std::string_view> allowed) {
    auto value = optional_string(body, field);
    if (!value || std::ranges::find(allowed, *value) != allowed.end()) return value;
    std::string names;
    for (const auto a : allowed) names += (names.empty() ? "" : ", ") + std::string(a);
    throw bad_request(field + " has an unknown value '" + *value + "'; expected one of " + names,
                      {{"field", field}});
}

std::optional<std::string> bounded_string(const json& body, const std::string& field,
                                          std::size_t min, std::size_t max) {
    auto value = optional_string(body, field);
    if (value && (value->size() < min || value->size() > max)) {
        throw bad_request(
            field + " must be " + std::to_string(min) + "-" + std::to_string(max) + " characters",
            {{"field", field}});
    }
    return value;
}

std::optional<std::int64_t> int_in(const json& body, const std::string& field, std::int64_t min,
                                   std::int64_t max) {
    const auto value = optional_int(body, field);
    if (value && (*value < min || *value > max)) {
        throw bad_request(
            field + " must be between " + std::to_string(min) + " and " + std::to_string(max),
            {{"field", field}});
    }
    return value;
}

std::optional<std::string> iso8601_field(const json& body, const std::string& field) {
    const auto text = optional_string(body, field);
    if (!text) return text;
    static const std::regex k_time(
        R"(^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?)?)"
        R"((Z|[+-](\d{2}):?(\d{2}))?$)");
    std::smatch m;
    const auto refuse = [&field]() {
        return bad_request(field + " must be an ISO 8601 date or time, e.g. 2024-04-25T10:00:00Z",
                           {{"field", field}});
    };
    if (!std::regex_match(*text, m, k_time)) throw refuse();
    using namespace std::chrono;
    const year_month_day date{year(number(m[1])), month(static_cast<unsigned>(number(m[2]))),
                              day(static_cast<unsigned>(number(m[3])))};
    const bool has_time = m[4].matched;
    const int hh = has_time ? number(m[4]) : 0;
    const int mm = has_time ? number(m[5]) : 0;
    const int ss = m[6].matched ? number(m[6]) : 0;
    const bool zone_ok = !m[9].matched || (number(m[9]) <= 14 && number(m[10]) <= 59);
    if (!date.ok() || number(m[1]) < 1900 || hh > 23 || mm > 59 || ss > 59 || !zone_ok) {
        throw refuse();
    }
    std::string out = m[1].str() + "-" + m[2].str() + "-" + m[3].str() + "T" +
                      (has_time ? m[4].str() + ":" + m[5].str() : std::string("00:00")) + ":" +
                      (m[6].matched ? m[6].str() : std::string("00")) + m[7].str();
    if (!m[8].matched || m[8].str() == "Z") return out + "+00:00";
    return out + m[8].str().substr(0, 3) + ":" + m[10].str();
}

std::optional<std::int64_t> query_id(const http::request& req, std::string_view name) {
    const auto text = query_param(req, name);
    if (!text) return std::nullopt;
    std::int64_t value = 0;
    const auto* end = text->data() + text->size();
    const auto [ptr, ec] = std::from_chars(text->data(), end, value);
    if (text->empty() || ec != std::errc{} || ptr != end || value < 1) {
        throw bad_request(std::string(name) + " must be a positive integer",
                          {{"field", std::string(name)}});
    }
    return value;
}

std::optional<bool> query_bool(const http::request& req, std::string_view name) {
    const auto text = query_param(req, name);
    if (!text) return std::nullopt;
    if (*text == "true" || *text == "1") return true;
    if (*text == "false" || *text == "0") return false;
    throw bad_request(std::string(name) + " must be true or false", {{"field", std::string(name)}});
}

bool is_hex64(std::string_view s) {
    return s.size() == 64 && std::ranges::all_of(s, [](char c) {
               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
           });
}

}  // namespace vpsfleet::api::admin
