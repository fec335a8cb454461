#pragma once
// Customer API: /projects/{project}/jobs and /jobs/{job}, the Suble view of jobs (type, status
// queued/running/succeeded/failed/cancelled, the instance it acts on, progress, error).
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"
#include "coordinator/jobs/job_store.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <string>

namespace vpsfleet::api::customer {

void add_job_routes(endpoints& api, services& s);

// A job state as customers see it: pending is queued, completed is succeeded.
std::string customer_job_status(const std::string& state);

// Suble's answer to a request that started a job (202): the queued job itself, not wrapped.
nlohmann::json accepted_job(pqxx::work& tx, const jobs::enqueued_job& job, const std::string& kind);

}  // namespace vpsfleet::api::customer
