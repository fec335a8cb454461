#pragma once
// Address allocation in the caller's transaction, so an address exists exactly when the change
// that wanted it commits (a rolled-back instance create frees it with everything else).
// Allocation locks the range's row (SELECT ... FOR UPDATE): allocations in one range run one after
// the other, each seeing the last one's committed assignment; vm_ip_assignments_live_ip (one live
// row per address) backs that up. See ipam/allocation.hpp for what each mode hands out.
#include "coordinator/ipam/allocation.hpp"

#include <pqxx/pqxx>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vpsfleet::auth {
class key_ring;
}

namespace vpsfleet::ipam {

// What the coordinator's ipam: section sets, handed to whoever allocates or releases.
struct settings {
    // A released address is not handed out by sequential or random allocation for this long.
    std::chrono::milliseconds release_cooldown{std::chrono::hours(1)};
    // Opens router tokens for access policies; null: routers are not called.
    auth::key_ring* keys = nullptr;
};

// An ip_ranges row as rules, plus what callers need to know about it.
struct range_info {
    std::int64_t id = 0;
    std::int64_t region_id = 0;
    bool enabled = true;
    std::optional<std::int64_t> access_policy_id;
    range_rules rules;
};

// Reads (or, with lock, locks) one range; throws ipam_error("range_not_found").
range_info read_range(pqxx::transaction_base& tx, std::int64_t range_id, bool lock = false);

// Whether a live assignment holds the address (other than `except_assignment`).
bool address_taken(pqxx::transaction_base& tx, const address& a,
                   std::optional<std::int64_t> except_assignment = std::nullopt);

struct allocation_request {
    std::int64_t range_id = 0;
    std::int64_t instance_id = 0;
    std::string mac;                // the instance's NIC, for slaac_eui64
    std::optional<std::string> ip;  // a specific address instead of the range's mode
    std::optional<std::string> arp_ref;
    std::optional<std::string> dns_forward;  // already normalized (ipam/dns_name.hpp)
    std::optional<std::string> dns_reverse;
};

struct allocation {
    std::int64_t assignment_id = 0;
    std::int64_t range_id = 0;
    int family = 4;
    std::string ip;       // "192.0.2.10"
    int prefix = 0;       // the range's prefix length
    std::string gateway;  // "192.0.2.1"
};

// Locks the range, picks the address and inserts the live assignment. Refuses (ipam_error) a
// disabled range, a requested address outside the CIDR, unusable or taken, a full range.
allocation allocate(pqxx::work& tx, const allocation_request& request,
                    std::chrono::milliseconds cooldown);

// The instance's NIC addresses: its live assignments, after allocating one IPv4 address from the
// first enabled IPv4 range of the host's region with room (and one IPv6 address the same way when
// the region has an enabled IPv6 range) for a family it has none of yet, so running it again
// returns the same addresses. Throws ipam_error("no_ip_range") when the region has no enabled IPv4
// range, "no_ip_available" when every candidate range of a family is full. IPv4 first.
std::vector<allocation> assign_for_instance(pqxx::work& tx, std::int64_t instance_id,
                                            std::int64_t host_id, const std::string& mac,
                                            std::chrono::milliseconds cooldown);

// The instance's live assignments, IPv4 first, each in assignment order.
std::vector<allocation> instance_addresses(pqxx::transaction_base& tx, std::int64_t instance_id);

// Soft-deletes (deleted_at = now()) the instance's live assignments; returns their ids.
std::vector<std::int64_t> release_for_instance(pqxx::work& tx, std::int64_t instance_id);

}  // namespace vpsfleet::ipam
