#pragma once
// Response shapes of the two APIs. The customer API (Suble) answers bare objects and errors as
// {"error": {code, message, details, request_id}}; the admin API (LNVPS) wraps data as
// {"data": ...} or {data, total, limit, offset} and errors as {"error": "message"}.
#include "common/http_server.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace vpsfleet::api {

enum class flavor { customer, admin, plain };

inline constexpr std::string_view customer_base = "/api/v1";
inline constexpr std::string_view admin_base = "/api/admin/v1";

flavor flavor_of(std::string_view path);

// A stable machine code for errors the server finds itself (404, 405, 413, 429, 500...).
std::string code_for(http::status status);

http::response error_response(flavor f, http::status status, const std::string& code,
                              const std::string& message, const nlohmann::json& details,
                              const std::string& request_id);

http::response json_reply(const nlohmann::json& body, http::status status = http::status::ok);
http::response no_content();

nlohmann::json admin_data(nlohmann::json data);
nlohmann::json admin_page(nlohmann::json items, std::int64_t total, std::int64_t limit,
                          std::int64_t offset);

}  // namespace vpsfleet::api
