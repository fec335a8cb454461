#pragma once
// Customer API: /projects/{project}/jobs and /jobs/{job}, the Suble view of jobs (type, status
// queued/running/succeeded/failed/cancelled, the instance it acts on, progress, error).
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

#include <string>

namespace vpsfleet::api::customer {

void add_job_routes(endpoints& api, services& s);

// A job state as customers see it: pending is queued, completed is succeeded.
std::string customer_job_status(const std::string& state);

}  // namespace vpsfleet::api::customer
