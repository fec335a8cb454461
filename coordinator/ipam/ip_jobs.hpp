#pragma once
// The jobs behind the admin API's vm_ip_assignments (LNVPS AssignVmIp, UpdateVmIp, UnassignVmIp),
// and the access-policy steps the instance jobs share with them.
// ip.assign: allocate the address (the range's mode, or the one asked for) and write the
// assignment in the step's transaction, then add the router's static ARP entry when the range's
// access policy names an enabled router. ip.update: change the address, ARP reference or DNS
// names; a new address moves the ARP entry. ip.unassign: remove the ARP entry, then soft-delete
// the assignment. A failed step undoes the ones before it.
#include "coordinator/ipam/allocator.hpp"
#include "coordinator/jobs/job_runner.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>

namespace vpsfleet::ipam {

inline constexpr const char* k_assign_kind = "ip.assign";
inline constexpr const char* k_update_kind = "ip.update";
inline constexpr const char* k_unassign_kind = "ip.unassign";

void add_ip_job_handlers(jobs::job_runner& runner, const settings& s);

// A step: adds the router's ARP entry for each live assignment of the instance that needs one
// (its range's policy names an enabled router and it has no arp_ref yet) and stores the
// reference. Returns {"added": [{"assignment_id", "arp_ref"}...]} for the undo below.
nlohmann::json apply_instance_access_policies(jobs::step_context& ctx, const settings& s,
                                              std::int64_t instance_id);
// Undo of the step above (from its output), best effort: a router that fails is logged.
void undo_instance_access_policies(jobs::step_context& ctx, const settings& s);
// Before an instance's addresses are released: removes the router entries of its live
// assignments, best effort (a router that fails is logged; the address is released regardless).
void remove_instance_access_policies(jobs::step_context& ctx, const settings& s,
                                     std::int64_t instance_id);

}  // namespace vpsfleet::ipam
