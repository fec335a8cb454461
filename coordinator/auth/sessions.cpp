#include "coordinator/auth/sessions.hpp"

#include "common/secrets.hpp"
#include "coordinator/auth/auth_failure.hpp"

namespace vpsfleet::auth {

token_pair session_issuer::open(pqxx::work& tx, std::int64_t user_id,
                                const std::string& user_uid) const {
    return issue(tx, user_id, user_uid, secrets::random_token("fam_", 12));
}

token_pair session_issuer::issue(pqxx::work& tx, std::int64_t user_id, const std::string& user_uid,
                                 const std::string& family) const {
    const std::string refresh = secrets::random_token("rt_");
    tx.exec_params(
        "INSERT INTO refresh_tokens (user_id, family, token_hash, expires_at) "
        "VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
        user_id, family, secrets::sha256_hex(refresh),
        static_cast<std::int64_t>(settings.refresh_ttl.count()));
    const std::int64_t now = unix_now();
    const access_claims claims{user_id, user_uid, family, now, now + settings.access_ttl.count()};
    return {signer.sign(claims), refresh, settings.access_ttl.count()};
}

token_pair session_issuer::rotate(pqxx::connection& conn, const std::string& refresh_token) const {
    pqxx::work tx(conn);
    const auto rows = tx.exec_params(
        "SELECT t.id, t.family, t.used_at IS NOT NULL OR t.revoked_at IS NOT NULL, "
        "       t.expires_at <= now(), u.id, u.uid, u.status "
        "FROM refresh_tokens t JOIN users u ON u.id = t.user_id "
        "WHERE t.token_hash = $1 FOR UPDATE OF t",
        secrets::sha256_hex(refresh_token));
    if (rows.empty()) throw auth_failure("invalid_refresh", "Refresh token is not valid");
    const auto row = rows[0];
    const auto family = row[1].as<std::string>();
    if (row[2].as<bool>()) {
        tx.exec_params(
            "UPDATE refresh_tokens SET revoked_at = now() WHERE family = $1 AND revoked_at IS NULL",
            family);
        tx.commit();
        throw auth_failure("invalid_refresh",
                           "Refresh token was already used; the session has been revoked");
    }
    if (row[3].as<bool>()) throw auth_failure("invalid_refresh", "Refresh token has expired");
    if (row[6].as<std::string>() != "active") {
        throw auth_failure("account_suspended", "This account is suspended");
    }
    tx.exec_params("UPDATE refresh_tokens SET used_at = now() WHERE id = $1",
                   row[0].as<std::int64_t>());
    auto pair = issue(tx, row[4].as<std::int64_t>(), row[5].as<std::string>(), family);
    tx.commit();
    return pair;
}

void close_session(pqxx::connection& conn, const std::string& refresh_token) {
    pqxx::work tx(conn);
    tx.exec_params(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE revoked_at IS NULL AND family = "
        "(SELECT family FROM refresh_tokens WHERE token_hash = $1)",
        secrets::sha256_hex(refresh_token));
    tx.commit();
}

void close_all_sessions(pqxx::work& tx, std::int64_t user_id) {
    tx.exec_params(
        "UPDATE refresh_tokens SET revoked_at = now() WHERE user_id = $1 AND revoked_at IS NULL",
        user_id);
}

}  // namespace vpsfleet::auth
