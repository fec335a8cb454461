#pragma once
// Customer API: GET /projects/{project}/ip-ranges, the prefixes the project owns (colocation and
// IP transit space staff recorded for it), IPv4 first.
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

namespace vpsfleet::api::customer {

void add_ip_range_routes(endpoints& api, services& s);

}  // namespace vpsfleet::api::customer
