#pragma once
// Admin API: GET /prometheus/targets, the fleet's scrape targets in Prometheus's http_sd format
// (the same JSON is valid file_sd content) so Prometheus follows hosts as they enroll.
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

namespace vpsfleet::api::admin {

void add_prometheus_routes(endpoints& api, services& s);

}  // namespace vpsfleet::api::admin
