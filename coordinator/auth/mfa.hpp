#pragma once
// TOTP two-factor for accounts: enrolment (a pending secret until the first code confirms it),
// the second sign-in step (a TOTP code, or a one-time recovery code), and disabling. Codes are
// refused once used: TOTP by remembering the last accepted time step, recovery codes by marking
// them used. Errors are api_errors in the customer API's codes.
#include "coordinator/auth/secret_box.hpp"

#include <pqxx/pqxx>

#include <cstdint>
#include <string>
#include <vector>

namespace vpsfleet::auth {

struct mfa_enrolment {
    std::string secret;  // base32, as authenticator apps take it
    std::string otpauth_url;
};

mfa_enrolment begin_mfa(pqxx::connection& conn, const secret_box& box, std::int64_t user_id,
                        const std::string& issuer);
// Enables MFA and returns the recovery codes, shown this once.
std::vector<std::string> confirm_mfa(pqxx::work& tx, const secret_box& box, std::int64_t user_id,
                                     const std::string& code);
void disable_mfa(pqxx::work& tx, const secret_box& box, std::int64_t user_id,
                 const std::string& code);

// True when `code` is a current TOTP code or an unused recovery code of the user (consuming it).
bool check_second_factor(pqxx::work& tx, const secret_box& box, std::int64_t user_id,
                         const std::string& code);

}  // namespace vpsfleet::auth
