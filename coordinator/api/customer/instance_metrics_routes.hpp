#pragma once
// Customer API: GET /projects/{project}/instances/{instance}/metrics, the instance's usage over
// a period (hour, day, week, month, or start_time..end_time) from the samples its host pushes:
// CPU and memory averaged per step, disk and network as bytes per second, and the latest sample.
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

namespace vpsfleet::api::customer {

void add_instance_metrics_routes(endpoints& api, services& s);

}  // namespace vpsfleet::api::customer
