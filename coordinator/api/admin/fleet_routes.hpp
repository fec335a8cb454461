#pragma once
// Admin API (LNVPS): /regions, /hosts (with live calculated_load and link state) and
// /hosts/{id}/disks.
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

namespace vpsfleet::api::admin {

void add_region_routes(endpoints& api, services& s);
void add_host_routes(endpoints& api, services& s);
// /drift/events and /drift/summary: what reconciliation found differing between hosts and the
// database (Platform9 drift detection, in the admin API's conventions).
void add_drift_routes(endpoints& api, services& s);
// /join_tokens: single-use enrollment tokens for new hosts (create shows the token once, list,
// revoke while unused).
void add_join_token_routes(endpoints& api, services& s);

}  // namespace vpsfleet::api::admin
