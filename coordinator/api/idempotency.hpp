#pragma once
// Idempotency-Key on POST: the first request with a key runs and its answer is stored for 24 h;
// the same key with the same request replays that answer, with another request it is refused,
// and while the first is still running a second is told to retry.
#include <pqxx/pqxx>

#include <optional>
#include <string>

namespace vpsfleet::api {

struct stored_response {
    int status = 0;
    std::string content_type;
    std::string body;
};

struct idempotency_claim {
    enum class state { fresh, replay, in_progress, mismatch };
    state outcome = state::fresh;
    stored_response response;  // for replay
};

idempotency_claim claim_idempotency_key(pqxx::connection& conn, const std::string& scope,
                                        const std::string& key, const std::string& request_hash);
void store_idempotent_response(pqxx::connection& conn, const std::string& scope,
                               const std::string& key, const stored_response& response);
// Forgets a claim whose request failed on our side, so the client may retry with the same key.
void release_idempotency_key(pqxx::connection& conn, const std::string& scope,
                             const std::string& key);

}  // namespace vpsfleet::api
