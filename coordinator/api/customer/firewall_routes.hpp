#pragma once
// Customer API: /projects/{project}/instances/{instance}/firewall (list, create) and
// /firewall/{rule} (update, reorder, delete), the Suble firewall of an instance. The rules are
// the truth; every change commits with its audit entry and a firewall.sync job
// (firewall/firewall_job.hpp) that brings the instance's host in line.
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

namespace vpsfleet::api::customer {

void add_firewall_routes(endpoints& api, services& s);

}  // namespace vpsfleet::api::customer
