#include "coordinator/api/shapes.hpp"

namespace vpsfleet::api {

using json = nlohmann::json;

namespace {

bool under(std::string_view path, std::string_view base) {
    return path.starts_with(base) && (path.size() == base.size() || path[base.size()] == '/');
}

}  // namespace

flavor flavor_of(std::string_view path) {
    if (under(path, admin_base)) return flavor::admin;
    if (under(path, customer_base)) return flavor::customer;
    return flavor::plain;
}

std::string code_for(http::status status) {
    switch (status) {
        case http::status::bad_request:
            return "invalid_request";
        case http::status::unauthorized:
            return "unauthenticated";
        case http::status::forbidden:
            return "forbidden";
        case http::status::not_found:
            return "route_not_found";
        case http::status::method_not_allowed:
            return "method_not_allowed";
        case http::status::conflict:
            return "conflict";
        case http::status::payload_too_large:
            return "payload_too_large";
        case http::status::unprocessable_entity:
            return "unprocessable_entity";
        case http::status::too_many_requests:
            return "rate_limited";
        case http::status::request_header_fields_too_large:
            return "headers_too_large";
        case http::status::service_unavailable:
            return "service_unavailable";
        default:
            return "internal_error";
    }
}

http::response error_response(flavor f, http::status status, const std::string& code,
                              const std::string& message, const json& details,
                              const std::string& request_id) {
    json body;
    if (f == flavor::customer) {
        body = {{"error",
                 {{"code", code},
                  {"message", message},
                  {"details", details},
                  {"request_id", request_id}}}};
    } else {
        body = {{"error", message}};
    }
    return http::json_response(status, body.dump());
}

http::response json_reply(const json& body, http::status status) {
    return http::json_response(status, body.dump());
}

http::response no_content() {
    http::response res{http::status::no_content, 11};
    return res;
}

json admin_data(json data) { return {{"data", std::move(data)}}; }

json admin_page(json items, std::int64_t total, std::int64_t limit, std::int64_t offset) {
    return {{"data", std::move(items)}, {"total", total}, {"limit", limit}, {"offset", offset}};
}

}  // namespace vpsfleet::api
