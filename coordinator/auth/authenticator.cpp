#include "coordinator/auth/authenticator.hpp"

#include "common/secrets.hpp"
#include "coordinator/auth/auth_failure.hpp"
#include "coordinator/auth/nip98.hpp"

#include <ctime>

namespace vpsfleet::auth {

namespace {

principal from_api_key(pqxx::connection& conn, std::string_view secret) {
    // Every API call runs this: prepared once per connection, it is not planned each time.
    conn.prepare("auth_api_key",
                 "SELECT k.id, k.project_id, p.uid, k.permissions, u.id, u.uid, u.status, "
                 "       k.last_used_at IS NULL OR k.last_used_at < now() - interval '60 seconds' "
                 "FROM api_keys k JOIN projects p ON p.id = k.project_id "
                 "JOIN users u ON u.id = k.user_id "
                 "WHERE k.secret_hash = $1 AND k.revoked_at IS NULL");
    pqxx::work tx(conn);
    const auto rows = tx.exec_prepared("auth_api_key", secrets::sha256_hex(secret));
    if (rows.empty()) throw auth_failure("invalid_api_key", "Invalid API key.");
    const auto r = rows[0];
    if (r[6].as<std::string>() != "active") {
        throw auth_failure("account_suspended", "The key's owner is suspended");
    }
    // last_used_at is a hint, not an audit record: write it at most once a minute per key.
    if (r[7].as<bool>()) {
        tx.exec_params("UPDATE api_keys SET last_used_at = now() WHERE id = $1",
                       r[0].as<std::int64_t>());
    }
    tx.commit();
    principal p;
    p.type = principal::kind::api_key;
    p.api_key_id = r[0].as<std::int64_t>();
    p.project_id = r[1].as<std::int64_t>();
    p.project_uid = r[2].as<std::string>();
    p.key_permissions = static_cast<std::uint64_t>(r[3].as<std::int64_t>());
    p.user_id = r[4].as<std::int64_t>();
    p.user_uid = r[5].as<std::string>();
    return p;
}

principal from_access_token(pqxx::connection& conn, const token_signer& signer,
                            std::string_view token) {
    const auto claims = signer.verify(token, unix_now());
    if (!claims) throw auth_failure("invalid_token", "Access token is invalid or expired");
    pqxx::read_transaction tx(conn);
    const auto rows = tx.exec_params(
        "SELECT u.status, EXISTS (SELECT 1 FROM refresh_tokens t "
        "                         WHERE t.family = $2 AND t.revoked_at IS NOT NULL) "
        "FROM users u WHERE u.id = $1",
        claims->user_id, claims->family);
    if (rows.empty() || rows[0][1].as<bool>()) {
        throw auth_failure("invalid_token", "The session has ended; sign in again");
    }
    if (rows[0][0].as<std::string>() != "active") {
        throw auth_failure("account_suspended", "This account is suspended");
    }
    principal p;
    p.type = principal::kind::user;
    p.user_id = claims->user_id;
    p.user_uid = claims->user_uid;
    return p;
}

principal from_nostr_event(pqxx::connection& conn, std::string_view event,
                           const request_facts& request) {
    const auto identity = verify_nip98(event, {request.method,
                                               {request.url},
                                               request.body,
                                               static_cast<std::int64_t>(std::time(nullptr))});
    pqxx::work tx(conn);
    // Events are only valid for a minute either way, so ten minutes of memory refuses any replay.
    tx.exec("DELETE FROM nostr_auth_events WHERE seen_at < now() - interval '10 minutes'");
    if (tx.exec_params(
              "INSERT INTO nostr_auth_events (event_id) VALUES ($1) ON CONFLICT DO NOTHING",
              identity.event_id)
            .affected_rows() == 0) {
        throw auth_failure("invalid_nostr_auth", "Nostr auth refused: the event was used before");
    }
    const auto rows =
        tx.exec_params("SELECT id, uid, status FROM users WHERE pubkey = $1", identity.pubkey);
    if (rows.empty()) throw auth_failure("unknown_pubkey", "No account has this Nostr pubkey");
    if (rows[0][2].as<std::string>() != "active") {
        throw auth_failure("account_suspended", "This account is suspended");
    }
    tx.commit();
    principal p;
    p.type = principal::kind::user;
    p.user_id = rows[0][0].as<std::int64_t>();
    p.user_uid = rows[0][1].as<std::string>();
    return p;
}

}  // namespace

principal authenticate(pqxx::connection& conn, const token_signer& signer,
                       std::string_view authorization, const request_facts& request) {
    constexpr std::string_view nostr = "Nostr ";
    if (authorization.starts_with(nostr)) {
        return from_nostr_event(conn, authorization.substr(nostr.size()), request);
    }
    return authenticate(conn, signer, authorization);
}

principal authenticate(pqxx::connection& conn, const token_signer& signer,
                       std::string_view authorization) {
    constexpr std::string_view bearer = "Bearer ";
    if (!authorization.starts_with(bearer)) {
        throw auth_failure("unauthenticated",
                           "Authorization must be 'Bearer <token>' or 'Nostr <event>'");
    }
    const auto token = authorization.substr(bearer.size());
    if (token.starts_with("sk_")) return from_api_key(conn, token);
    return from_access_token(conn, signer, token);
}

}  // namespace vpsfleet::auth
