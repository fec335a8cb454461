#pragma once
// Customer API: /projects/{project}/instances/{instance}/password/acknowledge (forget the
// one-time root password) and /events (the instance's lifecycle feed from vm_history, newest
// first, with an opaque cursor, under the document's dotted event names: create.requested,
// power.started, resize.requested, rebuild.requested, delete.completed, billing.renewed ...).
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

namespace vpsfleet::api::customer {

void add_instance_extra_routes(endpoints& api, services& s);

}  // namespace vpsfleet::api::customer
