#pragma once
// The jobs behind the customer API's instance routes. instance.create: reserve room on a host
// (scheduler), have its agent define the VM, start it, mark the instance running; each step is
// undone if a later one fails, and the instance ends in status error with the failure's code and
// message. instance.power: one power command, then status and power_state follow. instance.delete:
// stop and undefine the VM, release the reservation, mark the instance deleted.
#include "coordinator/ipam/allocator.hpp"
#include "coordinator/jobs/job_runner.hpp"

namespace vpsfleet::instances {

inline constexpr const char* k_create_kind = "instance.create";
inline constexpr const char* k_power_kind = "instance.power";
inline constexpr const char* k_delete_kind = "instance.delete";

// `addressing`: the cool-down for released addresses and the keys for routers' tokens.
void add_instance_job_handlers(jobs::job_runner& runner, const ipam::settings& addressing = {});

}  // namespace vpsfleet::instances
