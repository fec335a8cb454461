#pragma once
// Finding and locking the VM an admin /vms/{id}/... route acts on, and turning a refused instance
// job (another one still open) into the API's conflict.
#include "coordinator/api/call.hpp"
#include "coordinator/instances/instance_requests.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <cstdint>
#include <optional>
#include <string>

namespace vpsfleet::api::admin {

// 404 vm_not_found unless the instance exists (deleted ones included).
void require_vm(pqxx::work& tx, std::int64_t id);

struct locked_vm {
    instances::instance_ref ref;
    std::string status;
};

// The instance, locked FOR UPDATE; 404 vm_not_found when there is none.
locked_vm lock_vm(pqxx::work& tx, std::int64_t id);

// 409 operation_in_progress for nullopt.
jobs::enqueued_job enqueued_or_busy(std::optional<jobs::enqueued_job> job);

// AdminVmInfo of the instance; 404 vm_not_found when there is none.
nlohmann::json read_vm(pqxx::work& tx, std::int64_t id);

// The operator's user id, for jobs and history.
std::optional<std::int64_t> caller(const call& c);

// Names the operator (and `note`) in the VM history rows this transaction's changes write.
void as_actor(pqxx::work& tx, const call& c, const std::optional<std::string>& note);

}  // namespace vpsfleet::api::admin
