#pragma once
// Reading JSON request bodies and query strings strictly: anything malformed or of the wrong type
// is a 400 naming the field, before a handler touches the database.
#include "common/http_server.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vpsfleet::api {

// The body as a JSON object; an empty body is an empty object.
nlohmann::json json_body(const http::request& req);

std::string required_string(const nlohmann::json& body, const std::string& field);
std::optional<std::string> optional_string(const nlohmann::json& body, const std::string& field);
std::optional<std::int64_t> optional_int(const nlohmann::json& body, const std::string& field);
std::optional<bool> optional_bool(const nlohmann::json& body, const std::string& field);
// Characters, not bytes, of UTF-8 text (as PostgreSQL's char_length counts them): a name in
// Danish is as long as it reads.
std::size_t utf8_length(std::string_view text);

// A path parameter, percent-decoded; '+' stays '+' (only query strings encode a space so).
std::string path_segment(std::string_view raw);
// A query parameter, percent-decoded.
std::optional<std::string> query_param(const http::request& req, std::string_view name);
// The target with every `name` parameter taken out of its query string.
std::string without_query_param(std::string_view target, std::string_view name);
// limit/offset with the admin API's defaults and cap (default 50, max 100).
struct page_request {
    std::int64_t limit = 50;
    std::int64_t offset = 0;
};
page_request page_params(const http::request& req, std::int64_t default_limit = 50,
                         std::int64_t max_limit = 100);

}  // namespace vpsfleet::api
