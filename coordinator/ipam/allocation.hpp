#pragma once
// Which addresses of a range may be handed out, and which one to hand out next: pure functions,
// no database (ipam/allocator does the locking and the rows).
//
// Usable: inside the CIDR, not the gateway, not a reserved address, and not the network or
// broadcast address (first and last; for IPv6 the subnet-router anycast and the top address)
// unless the range uses its full range. Ranges of one or two addresses (IPv4 /31 /32, IPv6 /127
// /128) use every address: they have no network or broadcast to spare.
//
// Modes (LNVPS IpRangeAllocationMode):
// - sequential: the lowest free usable address.
// - random: uniformly among the free usable addresses. Small ranges (up to 65,536 usable
//   addresses) are enumerated; larger ones (an IPv6 /64) are probed at random candidates, then,
//   should every probe hit a taken address, scanned from a random start for at most as many steps
//   as there are taken addresses (plus one), which is bounded by what is stored, not by the range.
// - slaac_eui64: IPv6 /64 only; the address the instance's MAC gives by RFC 4291 appendix A.
// Sequential and random skip addresses released less than the cool-down ago; an explicit request
// and SLAAC only refuse live ones (the request is deliberate; SLAAC is fixed by the MAC).
#include "coordinator/ipam/address.hpp"

#include <optional>
#include <random>
#include <string_view>
#include <vector>

namespace vpsfleet::ipam {

enum class allocation_mode { sequential, random, slaac_eui64 };

std::optional<allocation_mode> parse_allocation_mode(std::string_view s);
const char* to_string(allocation_mode m);

struct range_rules {
    network cidr;
    address gateway;
    std::vector<address> reserved;
    bool use_full_range = false;
    allocation_mode mode = allocation_mode::sequential;
};

// Throws ipam_error for rules a range may not have: a gateway of the other family or outside the
// CIDR (a single-address range, IPv4 /32 or IPv6 /128, has its gateway elsewhere, as failover
// addresses do), reserved addresses outside the CIDR, slaac_eui64 on anything but an IPv6 /64.
void check_rules(const range_rules& rules);

// The first and last address that may be handed out before the gateway, reserved and taken
// addresses are skipped.
struct span {
    u128 first = 0;
    u128 last = 0;
};
span usable_span(const range_rules& rules);

bool is_usable(const range_rules& rules, const address& a);
// Throws ip_not_in_range or ip_not_usable, saying why.
void require_usable(const range_rules& rules, const address& a);

struct pick_input {
    std::vector<u128> live;     // addresses of the range assigned now, any order
    std::vector<u128> cooling;  // released less than the cool-down ago
    std::optional<mac_address> mac;
};

// The address the range's mode gives; throws range_exhausted when none is free, ip_taken or
// ip_not_usable when the SLAAC address cannot be used, invalid_mac when SLAAC has no MAC.
address pick_address(const range_rules& rules, pick_input in, std::mt19937_64& rng);

}  // namespace vpsfleet::ipam
