#pragma once
// Customer API: an instance's addresses and their reverse DNS.
//   GET   /projects/{project}/instances/{instance}/ips       the addresses, with range and PTR name
//   PATCH /projects/{project}/instances/{instance}/ips/{ip}  {"reverse_dns": name | null}: an
//         ip.update job (the one the admin API's vm_ip_assignments use) sets it; 202 with the job
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

namespace vpsfleet::api::customer {

void add_instance_ip_routes(endpoints& api, services& s);

}  // namespace vpsfleet::api::customer
