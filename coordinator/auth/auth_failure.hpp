#pragma once
// A credential the caller presented was refused. The code is the API's machine-readable reason
// (invalid_credentials, invalid_refresh, mfa_required...); the APIs answer 401 with it.
#include <stdexcept>
#include <string>

namespace vpsfleet::auth {

struct auth_failure : std::runtime_error {
    auth_failure(std::string code, const std::string& message)
        : std::runtime_error(message), code(std::move(code)) {}
    std::string code;
};

}  // namespace vpsfleet::auth
