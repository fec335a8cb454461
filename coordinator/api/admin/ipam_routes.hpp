#pragma once
// Admin API (LNVPS): IP address management. /ip_ranges, /access_policies and /routers are plain
// CRUD; /vm_ip_assignments reads directly and changes through jobs (ip.assign, ip.update,
// ip.unassign), answering {"data": {"job_dispatched": true, "job_id": ...}} once the request is
// checked, so a request refused here changes nothing. Router tokens are stored sealed and never
// returned.
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"
#include "coordinator/ipam/ipam_error.hpp"

namespace vpsfleet::api::admin {

void add_ipam_routes(endpoints& api, services& s);

// Part of add_ipam_routes: /vm_ip_assignments.
void add_ip_assignment_routes(endpoints& api, services& s);

// An IPAM refusal as the API's error: 409 for a taken address, a full or disabled range; 400 for
// everything else (bad input, unknown range).
api_error ipam_refusal(const ipam::ipam_error& e);

}  // namespace vpsfleet::api::admin
