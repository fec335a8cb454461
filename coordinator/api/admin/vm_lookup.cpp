#include "coordinator/api/admin/vm_lookup.hpp"

#include "coordinator/api/api_error.hpp"

namespace vpsfleet::api::admin {

void require_vm(pqxx::work& tx, std::int64_t id) {
    if (tx.exec_params("SELECT 1 FROM instances WHERE id = $1", id).empty()) {
        throw not_found("vm_not_found", "VM not found");
    }
}

locked_vm lock_vm(pqxx::work& tx, std::int64_t id) {
    const auto rows = tx.exec_params(
        "SELECT uid, project_id, status FROM instances WHERE id = $1 FOR UPDATE", id);
    if (rows.empty()) throw not_found("vm_not_found", "VM not found");
    return {{id, rows[0][0].as<std::string>(), rows[0][1].as<std::int64_t>()},
            rows[0][2].as<std::string>()};
}

jobs::enqueued_job enqueued_or_busy(std::optional<jobs::enqueued_job> job) {
    if (!job) {
        throw conflict("operation_in_progress", "another operation on this VM is still running");
    }
    return *job;
}

std::optional<std::int64_t> caller(const call& c) {
    return c.who.user_id > 0 ? std::optional(c.who.user_id) : std::nullopt;
}

void as_actor(pqxx::work& tx, const call& c, const std::optional<std::string>& note) {
    tx.exec_params(
        "SELECT set_config('vpsfleet.actor_user', $1, true), "
        "set_config('vpsfleet.history_note', $2, true)",
        c.who.user_id > 0 ? std::to_string(c.who.user_id) : std::string(), note.value_or(""));
}

}  // namespace vpsfleet::api::admin
