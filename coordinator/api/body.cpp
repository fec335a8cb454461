#include "coordinator/api/body.hpp"

#include "coordinator/api/api_error.hpp"

#include <algorithm>
#include <charconv>

namespace vpsfleet::api {

using json = nlohmann::json;

namespace {

std::string percent_decode(std::string_view in, bool plus_is_space = true) {
    std::string out;
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '+' && plus_is_space) {
            out += ' ';
        } else if (in[i] == '%' && i + 2 < in.size()) {
            int value = 0;
            const auto* first = in.data() + i + 1;
            if (std::from_chars(first, first + 2, value, 16).ec == std::errc{}) {
                out += static_cast<char>(value);
                i += 2;
            } else {
                out += in[i];
            }
        } else {
            out += in[i];
        }
    }
    return out;
}

std::int64_t parse_nonnegative(const std::string& text, std::string_view name) {
    std::int64_t value = 0;
    const auto* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc{} || ptr != end || value < 0) {
        throw bad_request(std::string(name) + " must be a non-negative integer",
                          {{"field", std::string(name)}});
    }
    return value;
}

}  // namespace

std::string path_segment(std::string_view raw) { return percent_decode(raw, false); }

json json_body(const http::request& req) {
    if (req.body().empty()) return json::object();
    json body = json::parse(req.body(), nullptr, false);
    if (body.is_discarded()) throw bad_request("Request body is not valid JSON");
    if (!body.is_object()) throw bad_request("Request body must be a JSON object");
    return body;
}

std::string required_string(const json& body, const std::string& field) {
    auto value = optional_string(body, field);
    if (!value) throw bad_request(field + " is required", {{"field", field}});
    return *value;
}

std::optional<std::string> optional_string(const json& body, const std::string& field) {
    const auto it = body.find(field);
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_string()) throw bad_request(field + " must be a string", {{"field", field}});
    return it->get<std::string>();
}

std::optional<std::int64_t> optional_int(const json& body, const std::string& field) {
    const auto it = body.find(field);
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_number_integer()) {
        throw bad_request(field + " must be an integer", {{"field", field}});
    }
    return it->get<std::int64_t>();
}

std::size_t utf8_length(std::string_view text) {
    return static_cast<std::size_t>(std::ranges::count_if(
        text, [](char ch) { return (static_cast<unsigned char>(ch) & 0xC0) != 0x80; }));
}

std::optional<bool> optional_bool(const json& body, const std::string& field) {
    const auto it = body.find(field);
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_boolean()) throw bad_request(field + " must be a boolean", {{"field", field}});
    return it->get<bool>();
}

std::optional<std::string> query_param(const http::request& req, std::string_view name) {
    const std::string_view target(req.target().data(), req.target().size());
    const auto q = target.find('?');
    if (q == std::string_view::npos) return std::nullopt;
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const auto pair = rest.substr(0, amp);
        const auto eq = pair.find('=');
        if (percent_decode(pair.substr(0, eq)) == name) {
            return eq == std::string_view::npos ? std::string()
                                                : percent_decode(pair.substr(eq + 1));
        }
        if (amp == std::string_view::npos) break;
        rest = rest.substr(amp + 1);
    }
    return std::nullopt;
}

std::string without_query_param(std::string_view target, std::string_view name) {
    const auto q = target.find('?');
    if (q == std::string_view::npos) return std::string(target);
    std::string out(target.substr(0, q));
    std::string_view rest = target.substr(q + 1);
    char separator = '?';
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const auto pair = rest.substr(0, amp);
        if (percent_decode(pair.substr(0, pair.find('='))) != name) {
            out += separator;
            out += pair;
            separator = '&';
        }
        if (amp == std::string_view::npos) break;
        rest = rest.substr(amp + 1);
    }
    return out;
}

page_request page_params(const http::request& req, std::int64_t default_limit,
                         std::int64_t max_limit) {
    page_request page{default_limit, 0};
    if (auto limit = query_param(req, "limit")) {
        page.limit = std::min(parse_nonnegative(*limit, "limit"), max_limit);
    }
    if (auto offset = query_param(req, "offset"))
        page.offset = parse_nonnegative(*offset, "offset");
    return page;
}

}  // namespace vpsfleet::api
