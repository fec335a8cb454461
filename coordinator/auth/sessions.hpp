#pragma once
// Sign-in sessions: a short-lived access token plus a rotating refresh token. Refresh tokens are
// stored only as SHA-256; each use retires the token and issues the next of its family, and a
// retired token presented again revokes the whole family (someone replayed a stolen token).
// Failures throw auth_failure.
#include "coordinator/auth/access_tokens.hpp"

#include <pqxx/pqxx>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace vpsfleet::auth {

struct session_settings {
    std::chrono::seconds access_ttl{15 * 60};
    std::chrono::seconds refresh_ttl{30 * 24 * 3600};
};

struct token_pair {
    std::string access_token;
    std::string refresh_token;
    std::int64_t expires_in = 0;  // seconds the access token lives
};

struct session_issuer {
    const token_signer& signer;
    session_settings settings;

    // A new family for a user who just proved who they are.
    token_pair open(pqxx::work& tx, std::int64_t user_id, const std::string& user_uid) const;
    // Trades a refresh token for the next pair; reuse of a retired token revokes its family.
    token_pair rotate(pqxx::connection& conn, const std::string& refresh_token) const;

  private:
    token_pair issue(pqxx::work& tx, std::int64_t user_id, const std::string& user_uid,
                     const std::string& family) const;
};

// Revokes the family of a refresh token (logout); unknown tokens are ignored.
void close_session(pqxx::connection& conn, const std::string& refresh_token);
// Revokes every session of a user (password reset, suspension).
void close_all_sessions(pqxx::work& tx, std::int64_t user_id);

}  // namespace vpsfleet::auth
