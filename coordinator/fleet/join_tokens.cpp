#include "coordinator/fleet/join_tokens.hpp"

#include "common/secrets.hpp"

namespace vpsfleet::fleet {

join_token create_join_token(pqxx::connection& conn, const std::string& region,
                             std::chrono::seconds ttl) {
    pqxx::work tx(conn);
    auto out = create_join_token(tx, region, ttl);
    tx.commit();
    return out;
}

join_token create_join_token(pqxx::work& tx, const std::string& region, std::chrono::seconds ttl) {
    join_token out{secrets::random_token("vfj_"), region, {}};
    const auto rows = tx.exec_params(
        "INSERT INTO join_tokens (region_id, token_hash, expires_at) "
        "SELECT id, $2, now() + make_interval(secs => $3) FROM regions "
        "WHERE lower(name) = lower($1) AND enabled "
        "RETURNING extract(epoch FROM expires_at)::bigint",
        region, secrets::sha256_hex(out.token), static_cast<long long>(ttl.count()));
    if (rows.empty()) throw unknown_region("no enabled region named '" + region + "'");
    out.expires_at =
        std::chrono::system_clock::time_point(std::chrono::seconds(rows[0][0].as<long long>()));
    return out;
}

const char* to_string(token_refusal r) {
    switch (r) {
        case token_refusal::unknown:
            return "unknown join token";
        case token_refusal::already_used:
            return "join token already used";
        case token_refusal::expired:
            return "join token expired";
    }
    return "join token refused";
}

std::optional<token_refusal> claim_join_token(pqxx::work& tx, const std::string& token,
                                              token_claim& out) {
    const auto rows = tx.exec_params(
        "SELECT id, region_id, used_at IS NOT NULL, expires_at <= now() FROM join_tokens "
        "WHERE token_hash = $1 FOR UPDATE",
        secrets::sha256_hex(token));
    if (rows.empty()) return token_refusal::unknown;
    if (rows[0][2].as<bool>()) return token_refusal::already_used;
    if (rows[0][3].as<bool>()) return token_refusal::expired;
    out.token_id = rows[0][0].as<std::int64_t>();
    out.region_id = rows[0][1].as<std::int64_t>();
    return std::nullopt;
}

void mark_join_token_used(pqxx::work& tx, std::int64_t token_id, std::int64_t host_id) {
    tx.exec_params("UPDATE join_tokens SET used_at = now(), host_id = $2 WHERE id = $1", token_id,
                   host_id);
}

}  // namespace vpsfleet::fleet
