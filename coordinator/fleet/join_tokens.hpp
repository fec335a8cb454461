#pragma once
// Single-use, expiring tokens that let a new hypervisor host enroll into a region. Only a SHA-256
// of each token is stored; the token itself is shown once, to the operator who created it.
#include <pqxx/pqxx>

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace vpsfleet::fleet {

struct unknown_region : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct join_token {
    std::string token;
    std::string region;
    std::chrono::system_clock::time_point expires_at;
};

join_token create_join_token(pqxx::connection& conn, const std::string& region,
                             std::chrono::seconds ttl);
// The same inside the caller's transaction.
join_token create_join_token(pqxx::work& tx, const std::string& region, std::chrono::seconds ttl);

enum class token_refusal { unknown, already_used, expired };
const char* to_string(token_refusal r);

struct token_claim {
    std::int64_t token_id = 0;
    std::int64_t region_id = 0;
};

// Locks the token row inside `tx`; the caller marks it used in the same transaction.
std::optional<token_refusal> claim_join_token(pqxx::work& tx, const std::string& token,
                                              token_claim& out);
void mark_join_token_used(pqxx::work& tx, std::int64_t token_id, std::int64_t host_id);

}  // namespace vpsfleet::fleet
