#pragma once
// Creates the first operator account of a fresh install with a generated password.
#include <pqxx/pqxx>

#include <optional>
#include <string>

namespace vpsfleet::auth {

struct admin_credentials {
    std::string email;
    std::string password;
};

// Creates an admin with a new random password unless an admin already exists; returns the
// credentials only when it created one.
std::optional<admin_credentials> create_first_admin(pqxx::connection& conn,
                                                    const std::string& email);

}  // namespace vpsfleet::auth
