#include "coordinator/audit/audit_log.hpp"

namespace vpsfleet::audit {

namespace {

std::optional<std::string> as_jsonb(const nlohmann::json& j) {
    if (j.is_null()) return std::nullopt;
    return j.dump();
}

}  // namespace

void record(pqxx::work& tx, const auth::principal& actor, const std::string& request_id,
            const entry& e) {
    using kind = auth::principal::kind;
    const char* actor_kind = actor.type == kind::api_key ? "api_key"
                             : actor.type == kind::user  ? "user"
                                                         : "system";
    std::optional<std::int64_t> actor_id;
    if (actor.user_id != 0) actor_id = actor.user_id;
    std::optional<std::int64_t> key_id;
    if (actor.api_key_id != 0) key_id = actor.api_key_id;
    tx.exec_params(
        "INSERT INTO audit_log (actor_id, actor_kind, api_key_id, request_id, action, "
        "target_type, target_id, before, after) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9::jsonb)",
        actor_id, actor_kind, key_id, request_id, e.action, e.target_type, e.target_id,
        as_jsonb(e.before), as_jsonb(e.after));
}

}  // namespace vpsfleet::audit
