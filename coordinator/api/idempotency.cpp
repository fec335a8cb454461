#include "coordinator/api/idempotency.hpp"

namespace vpsfleet::api {

idempotency_claim claim_idempotency_key(pqxx::connection& conn, const std::string& scope,
                                        const std::string& key, const std::string& request_hash) {
    pqxx::work tx(conn);
    // Stored answers last 24 h; a claim left unanswered for 5 minutes was abandoned by a
    // coordinator that stopped mid-request.
    tx.exec_params(
        "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND "
        "(created_at < now() - interval '24 hours' OR "
        " (status IS NULL AND created_at < now() - interval '5 minutes'))",
        scope, key);
    const auto inserted = tx.exec_params(
        "INSERT INTO idempotency_keys (scope, key, request_hash) VALUES ($1, $2, $3) "
        "ON CONFLICT DO NOTHING RETURNING 1",
        scope, key, request_hash);
    if (!inserted.empty()) {
        tx.commit();
        return {};
    }
    const auto row = tx.exec_params1(
        "SELECT request_hash, status, content_type, body FROM idempotency_keys "
        "WHERE scope = $1 AND key = $2",
        scope, key);
    tx.commit();
    using state = idempotency_claim::state;
    if (row[0].as<std::string>() != request_hash) return {state::mismatch, {}};
    if (row[1].is_null()) return {state::in_progress, {}};
    return {state::replay,
            {row[1].as<int>(), row[2].as<std::string>(""), row[3].as<std::string>("")}};
}

void store_idempotent_response(pqxx::connection& conn, const std::string& scope,
                               const std::string& key, const stored_response& response) {
    pqxx::work tx(conn);
    tx.exec_params(
        "UPDATE idempotency_keys SET status = $3, content_type = $4, body = $5 "
        "WHERE scope = $1 AND key = $2",
        scope, key, response.status, response.content_type, response.body);
    tx.commit();
}

void release_idempotency_key(pqxx::connection& conn, const std::string& scope,
                             const std::string& key) {
    pqxx::work tx(conn);
    tx.exec_params("DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND status IS NULL",
                   scope, key);
    tx.commit();
}

}  // namespace vpsfleet::api
