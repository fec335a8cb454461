#pragma once
// The one way handlers report a failure: throw api_error and the gateway renders it in the calling
// API's error shape (customer: {"error": {code, message, details, request_id}}, admin:
// {"error": "message"}), so no handler builds error bodies itself.
#include "common/http_server.hpp"

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace vpsfleet::api {

struct api_error : std::runtime_error {
    api_error(http::status status, std::string code, const std::string& message,
              nlohmann::json details = nullptr)
        : std::runtime_error(message),
          status(status),
          code(std::move(code)),
          details(std::move(details)) {}

    http::status status;
    std::string code;
    nlohmann::json details;
};

inline api_error bad_request(const std::string& message, nlohmann::json details = nullptr) {
    return {http::status::bad_request, "invalid_request", message, std::move(details)};
}
inline api_error not_found(std::string code, const std::string& message) {
    return {http::status::not_found, std::move(code), message};
}
inline api_error conflict(std::string code, const std::string& message) {
    return {http::status::conflict, std::move(code), message};
}
inline api_error unauthenticated(const std::string& message = "Authentication required") {
    return {http::status::unauthorized, "unauthenticated", message};
}
inline api_error forbidden(std::string code, const std::string& message) {
    return {http::status::forbidden, std::move(code), message};
}

}  // namespace vpsfleet::api
