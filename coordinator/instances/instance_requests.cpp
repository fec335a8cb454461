#include "coordinator/instances/instance_requests.hpp"

#include "coordinator/instances/instance_jobs.hpp"

namespace vpsfleet::instances {

bool power_allowed(std::string_view action, std::string_view status) {
    return action == "start" ? status == "stopped" : status == "running" || status == "installing";
}

std::optional<jobs::enqueued_job> enqueue_exclusive(pqxx::work& tx,
                                                    std::optional<std::int64_t> user_id,
                                                    const instance_ref& instance,
                                                    const std::string& kind, nlohmann::json args) {
    return jobs::enqueue(tx, jobs::new_job{.kind = kind,
                                           .args = std::move(args),
                                           .created_by_user_id = user_id,
                                           .project_id = instance.project_id,
                                           .target = instance.uid,
                                           .exclusive = true});
}

std::optional<jobs::enqueued_job> request_power(pqxx::work& tx, std::optional<std::int64_t> user_id,
                                                const instance_ref& instance,
                                                const std::string& action) {
    return enqueue_exclusive(tx, user_id, instance, k_power_kind,
                             {{"instance_id", instance.id}, {"action", action}});
}

std::optional<jobs::enqueued_job> request_delete(pqxx::work& tx,
                                                 std::optional<std::int64_t> user_id,
                                                 const instance_ref& instance) {
    auto job =
        enqueue_exclusive(tx, user_id, instance, k_delete_kind, {{"instance_id", instance.id}});
    if (job) tx.exec_params("UPDATE instances SET status = 'deleting' WHERE id = $1", instance.id);
    return job;
}

}  // namespace vpsfleet::instances
