#include "coordinator/auth/accounts.hpp"
#include "common/ascii_case.hpp"

#include "common/secrets.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/auth/auth_failure.hpp"
#include "coordinator/auth/mfa.hpp"
#include "coordinator/auth/password.hpp"
#include "coordinator/mail/outbox.hpp"

#include <sodium.h>

#include <algorithm>
#include <regex>

namespace vpsfleet::auth {

namespace {

std::string random_hex(std::size_t bytes) {
    init_sodium();
    std::vector<unsigned char> raw(bytes);
    randombytes_buf(raw.data(), raw.size());
    std::string out(bytes * 2 + 1, '\0');
    sodium_bin2hex(out.data(), out.size(), raw.data(), raw.size());
    out.pop_back();
    return out;
}

}  // namespace

bool valid_email(const std::string& email) {
    static const std::regex pattern(R"(^[^@\s]+@[^@\s]+\.[^@\s]+$)");
    return email.size() <= 254 && std::regex_match(email, pattern);
}

void validate_password(const std::string& password) {
    if (password.size() < 8) {
        throw api::bad_request("Password must be at least 8 characters", {{"field", "password"}});
    }
    if (password.size() > 1024) {
        throw api::bad_request("Password must be at most 1024 characters", {{"field", "password"}});
    }
}

account_ref create_account(pqxx::work& tx, const new_account& a) {
    const std::string email = ascii_lower(a.email);
    if (!valid_email(email)) throw api::bad_request("Invalid email", {{"field", "email"}});
    validate_password(a.password);
    if (a.fullname.empty() || a.fullname.size() > 120) {
        throw api::bad_request("fullname must be 1-120 characters", {{"field", "fullname"}});
    }
    if (a.country.size() != 2) {
        throw api::bad_request("country must be a 2-letter code", {{"field", "country"}});
    }
    if (a.language != "da" && a.language != "en") {
        throw api::bad_request("language must be 'da' or 'en'", {{"field", "language"}});
    }
    const std::string uid = secrets::random_token("usr_", 9);
    const auto rows = tx.exec_params(
        "INSERT INTO users (uid, email, password_hash, fullname, country, language) "
        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING id",
        uid, email, hash_password(a.password), a.fullname, ascii_upper(a.country), a.language);
    if (rows.empty()) {
        throw api::conflict("email_taken", "An account with this email already exists");
    }
    return {rows[0][0].as<std::int64_t>(), uid};
}

sign_in_result sign_in(pqxx::connection& conn, const session_issuer& sessions,
                       const secret_box& box, const std::string& email, const std::string& password,
                       const std::optional<std::string>& code) {
    pqxx::work tx(conn);
    const auto rows = tx.exec_params(
        "SELECT id, uid, password_hash, status, mfa_enabled FROM users WHERE lower(email) = "
        "$1",
        ascii_lower(email));
    // Hash anyway when the account is unknown, so timing does not reveal which emails exist.
    static const std::string decoy = hash_password(secrets::random_token("", 16));
    const bool found = !rows.empty() && !rows[0][2].is_null();
    const bool password_ok =
        verify_password(found ? rows[0][2].as<std::string>() : decoy, password) && found;
    if (!password_ok) {
        throw auth_failure("invalid_credentials", "Email or password is incorrect");
    }
    const auto row = rows[0];
    if (row[3].as<std::string>() != "active") {
        throw auth_failure("account_suspended", "This account is suspended");
    }
    const auto user_id = row[0].as<std::int64_t>();
    if (row[4].as<bool>()) {
        if (!code || code->empty()) return {true, {}};
        if (!check_second_factor(tx, box, user_id, *code)) {
            tx.commit();  // a consumed recovery code or TOTP step stays consumed
            throw auth_failure("invalid_mfa_code", "The two-factor code is not valid");
        }
    }
    auto tokens = sessions.open(tx, user_id, row[1].as<std::string>());
    tx.commit();
    return {false, std::move(tokens)};
}

void request_password_reset(pqxx::connection& conn, const reset_settings& settings,
                            const std::string& email) {
    if (!valid_email(ascii_lower(email)))
        throw api::bad_request("Invalid email", {{"field", "email"}});
    pqxx::work tx(conn);
    const auto rows =
        tx.exec_params("SELECT id, email FROM users WHERE lower(email) = $1 AND status = 'active'",
                       ascii_lower(email));
    if (rows.empty()) return;
    const std::string token = random_hex(32);
    tx.exec_params(
        "INSERT INTO password_reset_tokens (token_hash, user_id, expires_at) "
        "VALUES ($1, $2, now() + make_interval(secs => $3))",
        secrets::sha256_hex(token), rows[0][0].as<std::int64_t>(),
        static_cast<std::int64_t>(settings.ttl.count()));
    const std::string link = settings.public_url + "/reset-password?token=" + token;
    mail::enqueue(tx, rows[0][1].as<std::string>(), "Reset your password",
                  "Someone asked to reset the password of your account.\r\n\r\n"
                  "To choose a new password, open this link within " +
                      std::to_string(settings.ttl.count() / 60) + " minutes:\r\n\r\n" + link +
                      "\r\n\r\nIf it was not you, ignore this mail; your password stays as it "
                      "is.\r\n");
    tx.commit();
}

void reset_password(pqxx::connection& conn, const std::string& token,
                    const std::string& new_password) {
    if (token.size() != 64) throw api::bad_request("Reset token must be 64 characters");
    validate_password(new_password);
    const std::string hash = hash_password(new_password);
    pqxx::work tx(conn);
    const auto rows = tx.exec_params(
        "UPDATE password_reset_tokens SET used_at = now() "
        "WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING user_id",
        secrets::sha256_hex(token));
    if (rows.empty()) {
        throw api::api_error(http::status::bad_request, "invalid_token",
                             "Reset token is invalid, used or expired");
    }
    const auto user_id = rows[0][0].as<std::int64_t>();
    tx.exec_params("UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1", user_id,
                   hash);
    close_all_sessions(tx, user_id);
    tx.commit();
}

}  // namespace vpsfleet::auth
