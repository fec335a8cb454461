#pragma once
// The two ways an operator brings a VM into being for a user (LNVPS users own VMs directly: the
// VM goes into the user's first project, made for them if they have none):
//   POST /vms                        "Create VM for User": the customer API's order path
//                                    (instances/instance_order), so placement, IP addresses and
//                                    prepaid billing are the same; answers the create job's id.
//   POST /drift/events/{id}/import   an open `unmanaged` reconciliation finding becomes a managed
//                                    VM on its host, with the domain's uuid and power state, its
//                                    resources reserved there; no job (the domain exists), and the
//                                    finding is resolved.
// Both need virtual_machines::create, are audited with the operator's reason, and the VM's
// history names the operator.
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

namespace vpsfleet::api::admin {

void add_vm_create_route(endpoints& api, services& s);
void add_drift_import_route(endpoints& api, services& s);

}  // namespace vpsfleet::api::admin
