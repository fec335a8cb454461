#pragma once
// Customer and operator accounts: sign-up, sign-in (with the MFA step), and password reset by a
// mailed single-use token stored only hashed. Input is validated here, so both APIs refuse the
// same things; failures are api_errors in the customer API's codes.
#include "coordinator/auth/secret_box.hpp"
#include "coordinator/auth/sessions.hpp"

#include <pqxx/pqxx>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace vpsfleet::auth {

struct new_account {
    std::string email;
    std::string password;
    std::string fullname;
    std::string country = "DK";
    std::string language = "en";
};

struct account_ref {
    std::int64_t id = 0;
    std::string uid;
};

// Lower-cases the email; throws 400 invalid_request or 409 email_taken.
account_ref create_account(pqxx::work& tx, const new_account& account);

struct sign_in_result {
    bool mfa_required = false;
    token_pair tokens;
};

// Checks email and password, then the second factor when the account has MFA: without a code the
// result asks for one. Throws 401 invalid_credentials / invalid_mfa_code / account_suspended.
sign_in_result sign_in(pqxx::connection& conn, const session_issuer& sessions,
                       const secret_box& box, const std::string& email, const std::string& password,
                       const std::optional<std::string>& code);

struct reset_settings {
    std::chrono::seconds ttl{3600};
    std::string public_url;
};

// Mails a reset link when the email has an account; silent otherwise (no account probing).
void request_password_reset(pqxx::connection& conn, const reset_settings& settings,
                            const std::string& email);
// Consumes the token, sets the password and signs every session out. Throws 400 invalid_token.
void reset_password(pqxx::connection& conn, const std::string& token,
                    const std::string& new_password);

// Password rules shared by sign-up, reset and operator tools.
void validate_password(const std::string& password);

// Plausible as an address mail can go to: local@domain.tld, at most 254 characters.
bool valid_email(const std::string& email);

}  // namespace vpsfleet::auth
