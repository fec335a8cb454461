#pragma once
// Email verification (Suble's emailVerified): sign-up mails a link with a single-use token that
// expires, stored only as its SHA-256; confirming it marks the account verified. Ordering
// instances needs a verified email. Failures are api_errors in the customer API's codes.
#include "coordinator/auth/accounts.hpp"

#include <pqxx/pqxx>

#include <chrono>
#include <cstdint>
#include <string>

namespace vpsfleet::auth {

struct verification_settings {
    std::chrono::seconds ttl{24 * 3600};
    std::string public_url;  // the link is public_url + "/verify-email?token=..."
};

// Queues the mail in the caller's transaction (it goes out only if that commits). Links mailed
// to the user before stop working: only the newest one counts.
void send_verification_mail(pqxx::work& tx, const verification_settings& settings,
                            std::int64_t user_id);

// The same on a user's request: 409 email_already_verified, or 429 verification_recently_sent
// when the last mail went out less than a minute ago.
void resend_verification_mail(pqxx::work& tx, const verification_settings& settings,
                              std::int64_t user_id);

// Consumes the token and marks its account verified. 400 invalid_token (unknown or malformed),
// token_used, or token_expired (also for a link a newer mail replaced).
account_ref confirm_email(pqxx::work& tx, const std::string& token);

// 403 email_unverified unless the user has verified their email.
void require_verified_email(pqxx::work& tx, std::int64_t user_id);

}  // namespace vpsfleet::auth
