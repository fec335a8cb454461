#pragma once
// Asking for a change to an instance, shared by the customer and admin APIs: inside the caller's
// transaction (the instance row locked by the caller), enqueue the instance job that makes the
// change. One exclusive job per instance is open at a time, so a request while another
// operation runs is refused (nullopt) rather than queued behind it.
#include "coordinator/jobs/job_store.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vpsfleet::instances {

struct instance_ref {
    std::int64_t id = 0;
    std::string uid;
    std::int64_t project_id = 0;
};

// start from stopped; stop, shutdown, reboot and reset while running (or still installing).
bool power_allowed(std::string_view action, std::string_view status);

std::optional<jobs::enqueued_job> enqueue_exclusive(pqxx::work& tx,
                                                    std::optional<std::int64_t> user_id,
                                                    const instance_ref& instance,
                                                    const std::string& kind, nlohmann::json args);

// instance.power with the action (power_allowed is the caller's check, it knows the status).
std::optional<jobs::enqueued_job> request_power(pqxx::work& tx, std::optional<std::int64_t> user_id,
                                                const instance_ref& instance,
                                                const std::string& action);

// instance.delete; the instance shows status deleting until the job has removed it.
std::optional<jobs::enqueued_job> request_delete(pqxx::work& tx,
                                                 std::optional<std::int64_t> user_id,
                                                 const instance_ref& instance);

}  // namespace vpsfleet::instances
