#pragma once
// Access policies on routers (LNVPS "static_arp"): when an address of a range whose policy names
// an enabled router is assigned to an instance, the router gets a static ARP entry (the address
// to the instance's MAC, on the policy's interface); it goes when the address is released. The
// router's reference for the entry is kept on the assignment (arp_ref). Router calls block: run
// them on job worker threads, never on an I/O thread, and never while holding a range lock.
#include "coordinator/ipam/allocator.hpp"

#include <pqxx/pqxx>

#include <cstdint>
#include <optional>
#include <string>

namespace vpsfleet::ipam {

// One assignment as its router sees it.
struct arp_target {
    std::int64_t assignment_id = 0;
    std::string ip;
    std::string mac;
    std::string interface;
    std::string comment;  // "vpsfleet <instance uid>"
    std::string router_name;
    std::string router_kind;
    std::string router_url;
    std::string sealed_token;
    std::optional<std::string> arp_ref;  // the entry the router already has, if any
};

// nullopt when the assignment's range has no access policy, or its policy no enabled router.
std::optional<arp_target> arp_target_of(pqxx::transaction_base& tx, std::int64_t assignment_id);

// Adds the entry and returns the router's reference for it. Router failures are ipam_error with
// code "router_<the router client's code>"; a build without a router client throws
// "router_unsupported".
std::string add_arp_entry(pqxx::connection& conn, const settings& s, const arp_target& target);
// The router's reference of an entry for the target's address and MAC, if it has one: how a step
// run again after a crash finds the entry it may already have added.
std::optional<std::string> find_arp_entry(pqxx::connection& conn, const settings& s,
                                          const arp_target& target);
// Removes the entry `arp_ref`; an entry already gone counts as removed.
void remove_arp_entry(pqxx::connection& conn, const settings& s, const arp_target& target,
                      const std::string& arp_ref);

}  // namespace vpsfleet::ipam
