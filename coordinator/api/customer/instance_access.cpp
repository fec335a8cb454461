#include "coordinator/api/customer/instance_access.hpp"

#include "coordinator/api/api_error.hpp"
#include "coordinator/api/customer/project_routes.hpp"

namespace vpsfleet::api::customer {

project_instance find_instance(pqxx::work& tx, const call& c, const std::string& project,
                               const std::string& uid, bool for_update) {
    const auto project_id = resolve_project(tx, c, project);
    const auto rows = tx.exec_params(
        std::string("SELECT id, status FROM instances WHERE project_id = $1 AND uid = $2 AND "
                    "deleted_at IS NULL") +
            (for_update ? " FOR UPDATE" : ""),
        project_id, uid);
    if (rows.empty()) throw not_found("instance_not_found", "Instance not found");
    return {rows[0][0].as<std::int64_t>(), project_id, uid, rows[0][1].as<std::string>()};
}

std::optional<std::int64_t> acting_user(const call& c) {
    return c.who.user_id > 0 ? std::optional<std::int64_t>(c.who.user_id) : std::nullopt;
}

jobs::enqueued_job enqueued_or_busy(std::optional<jobs::enqueued_job> job) {
    if (!job) {
        throw conflict("operation_in_progress",
                       "Another operation on this instance is still in progress");
    }
    return *job;
}

}  // namespace vpsfleet::api::customer
