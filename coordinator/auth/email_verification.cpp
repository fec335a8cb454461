#include "coordinator/auth/email_verification.hpp"

#include "common/secrets.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/mail/outbox.hpp"

#include <algorithm>

namespace vpsfleet::auth {

namespace {

constexpr std::int64_t k_resend_interval_s = 60;
constexpr std::size_t k_token_chars = 43;  // 32 random bytes in base64url

api::api_error token_error(std::string code, const std::string& message) {
    return {http::status::bad_request, std::move(code), message};
}

bool plausible_token(const std::string& token) {
    return token.size() == k_token_chars && std::ranges::all_of(token, [](char c) {
               return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '_';
           });
}

}  // namespace

void send_verification_mail(pqxx::work& tx, const verification_settings& settings,
                            std::int64_t user_id) {
    const auto email =
        tx.exec_params1("SELECT email FROM users WHERE id = $1", user_id)[0].as<std::string>();
    tx.exec_params(
        "UPDATE email_verification_tokens SET expires_at = now() "
        "WHERE user_id = $1 AND used_at IS NULL AND expires_at > now()",
        user_id);
    const std::string token = secrets::random_token("", 32);
    tx.exec_params(
        "INSERT INTO email_verification_tokens (token_hash, user_id, email, expires_at) "
        "VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
        secrets::sha256_hex(token), user_id, email,
        static_cast<std::int64_t>(settings.ttl.count()));
    const auto hours = std::max<std::int64_t>(1, settings.ttl.count() / 3600);
    const std::string link = settings.public_url + "/verify-email?token=" + token;
    mail::enqueue(tx, email, "Confirm your email address",
                  "Welcome! Please confirm that this is your email address by opening this "
                  "link within " +
                      std::to_string(hours) + (hours == 1 ? " hour" : " hours") + ":\r\n\r\n" +
                      link +
                      "\r\n\r\nYou can order servers once your address is confirmed.\r\n"
                      "If you did not create an account, ignore this mail.\r\n");
}

void resend_verification_mail(pqxx::work& tx, const verification_settings& settings,
                              std::int64_t user_id) {
    // Locks the user so two concurrent resends cannot both pass the interval check.
    const auto user = tx.exec_params1(
        "SELECT email_verified, (SELECT ceil(extract(epoch FROM max(created_at) + "
        "make_interval(secs => $2) - now()))::bigint FROM email_verification_tokens "
        "WHERE user_id = u.id) FROM users u WHERE id = $1 FOR UPDATE",
        user_id, k_resend_interval_s);
    if (user[0].as<bool>()) {
        throw api::conflict("email_already_verified", "Your email address is already verified");
    }
    if (!user[1].is_null() && user[1].as<std::int64_t>() > 0) {
        const auto wait = user[1].as<std::int64_t>();
        throw api::api_error(http::status::too_many_requests, "verification_recently_sent",
                             "A verification mail was sent less than a minute ago; check your "
                             "inbox or try again in " +
                                 std::to_string(wait) + " s",
                             {{"retry_after", wait}});
    }
    send_verification_mail(tx, settings, user_id);
}

account_ref confirm_email(pqxx::work& tx, const std::string& token) {
    if (!plausible_token(token)) {
        throw token_error("invalid_token", "This verification link is not valid");
    }
    const auto rows = tx.exec_params(
        "SELECT t.user_id, u.uid, t.used_at IS NOT NULL, t.expires_at <= now(), "
        "       t.email = u.email "
        "FROM email_verification_tokens t JOIN users u ON u.id = t.user_id "
        "WHERE t.token_hash = $1 FOR UPDATE OF t",
        secrets::sha256_hex(token));
    if (rows.empty() || !rows[0][4].as<bool>()) {
        throw token_error("invalid_token", "This verification link is not valid");
    }
    const auto r = rows[0];
    if (r[2].as<bool>()) {
        throw token_error("token_used",
                          "This verification link was already used; each link works once");
    }
    if (r[3].as<bool>()) {
        throw token_error("token_expired",
                          "This verification link has expired or a newer mail replaced it; "
                          "sign in and ask for a new link");
    }
    const account_ref user{r[0].as<std::int64_t>(), r[1].as<std::string>()};
    tx.exec_params("UPDATE email_verification_tokens SET used_at = now() WHERE token_hash = $1",
                   secrets::sha256_hex(token));
    tx.exec_params("UPDATE users SET email_verified = true, updated_at = now() WHERE id = $1",
                   user.id);
    return user;
}

void require_verified_email(pqxx::work& tx, std::int64_t user_id) {
    const auto rows = tx.exec_params("SELECT email_verified FROM users WHERE id = $1", user_id);
    if (rows.empty() || !rows[0][0].as<bool>()) {
        throw api::forbidden("email_unverified",
                             "Confirm your email address before ordering: open the link we "
                             "mailed you, or ask for a new one with "
                             "POST /api/v1/auth/verify-email/resend");
    }
}

}  // namespace vpsfleet::auth
