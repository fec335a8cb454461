#pragma once
// Work jobs: list, get with events, and the live feedback WebSocket (see job_feedback.hpp).
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

namespace vpsfleet::api::admin {

void add_job_routes(endpoints& api, services& s);

}  // namespace vpsfleet::api::admin
