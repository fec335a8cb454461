#pragma once
// Customer API: changes to a built instance, as in the Suble document.
// - POST …/resize {plan}: another plan (disk grow-only) on the same host, its reservation grown
//   under the host's lock (409 no_capacity when the host has no room); prepaid, the unused time
//   of the old plan is refunded and a period of the new one paid (402 billing_*). 202 + job.
// - POST …/rebuild {source: {image}, sshKeys?, backup?}: a new root disk from the image, same
//   addresses, a new password. 202 + job.
// - POST …/password {password?}: a new password (generated when none is given), stored sealed,
//   set in the guest by a job; answered once. 202 + job.
// - POST …/ssh-key {publicKey}: the key added to the default user's authorized keys in the
//   running guest through its guest agent, at once (200), and kept for rebuilds.
// Resize, rebuild and password need an idle instance (running or stopped): 409
// operation_in_progress otherwise.
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

namespace vpsfleet::api::customer {

void add_instance_change_routes(endpoints& api, services& s);

}  // namespace vpsfleet::api::customer
