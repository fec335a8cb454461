#pragma once
// How the customer API's instance routes reach an instance: resolved through its project (404
// instance_not_found unless it is a live instance of a project the caller may use), locked or
// not, and who is acting for the jobs it starts.
#include "coordinator/api/call.hpp"
#include "coordinator/jobs/job_store.hpp"

#include <pqxx/pqxx>

#include <cstdint>
#include <optional>
#include <string>

namespace vpsfleet::api::customer {

struct project_instance {
    std::int64_t id = 0;
    std::int64_t project_id = 0;
    std::string uid;
    std::string status;
};

// `for_update`: locked until the transaction ends, so changes to the instance happen one at a
// time.
project_instance find_instance(pqxx::work& tx, const call& c, const std::string& project,
                               const std::string& uid, bool for_update);

// The user behind the request (an API key's owner included), for the jobs it enqueues.
std::optional<std::int64_t> acting_user(const call& c);

// 409 operation_in_progress when the instance already has an exclusive job open.
jobs::enqueued_job enqueued_or_busy(std::optional<jobs::enqueued_job> job);

}  // namespace vpsfleet::api::customer
