#pragma once
// Admin API: /project_ip_ranges, the address space projects own (colocation and IP transit
// prefixes), recorded by staff once ownership is checked: list (?project_id=), get, create,
// delete. Prefixes of different projects may not overlap. Customers see their own at
// GET /api/v1/projects/{p}/ip-ranges.
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

namespace vpsfleet::api::admin {

void add_project_ip_range_routes(endpoints& api, services& s);

}  // namespace vpsfleet::api::admin
