#pragma once
// VM placement as a pure function: a snapshot of candidate hosts and a request in, the chosen host
// and storage pool (or the reason nothing fits) out. No database, no I/O, so it is unit-tested on
// its own and run again under the host's lock by scheduler/reservations.
//
// Semantics follow LNVPS: a host's capacity is its physical amount times its load factor
// (`load_cpu`, `load_memory`, `load_disk`, overcommit ratios), rounded down; its load is the mean
// of its cpu, memory and disk loads (`calculated_load.overall_load`). Only enabled, online hosts in
// enabled regions take VMs; the least-loaded host that fits wins, ties going to the lowest id, and
// on it the least-loaded enabled disk of the requested kind and interface that fits.
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace vpsfleet::scheduler {

enum class disk_kind { ssd, hdd };
enum class disk_interface { sata, scsi, pcie };
enum class link_state { pending, online, unreachable, down };

// Database words (hosts.state, host_disks.kind/interface); nullopt for anything else.
std::optional<disk_kind> parse_disk_kind(std::string_view s);
std::optional<disk_interface> parse_disk_interface(std::string_view s);
std::optional<link_state> parse_link_state(std::string_view s);
const char* to_string(disk_kind k);
const char* to_string(disk_interface i);

// Overcommit ratios in thousandths, exactly as hosts.load_* (numeric(6,3)) hold them: 1500 is 1.5.
// Integers keep capacity exact: 100 cores at 0.29 are 29, where doubles would give 28.
struct load_factors {
    std::int64_t cpu_milli = 1000;
    std::int64_t memory_milli = 1000;
    std::int64_t disk_milli = 1000;
};

// floor(physical * milli / 1000), without overflow for any bigint byte count.
std::int64_t overcommitted(std::int64_t physical, std::int64_t milli);

struct candidate_disk {
    std::int64_t id = 0;
    disk_kind kind = disk_kind::ssd;
    disk_interface interface = disk_interface::pcie;
    bool enabled = true;
    std::int64_t size = 0;  // bytes, physical
    std::int64_t used = 0;  // bytes reserved
};

struct candidate_host {
    std::int64_t id = 0;
    std::int64_t region_id = 0;
    bool enabled = true;
    bool region_enabled = true;
    link_state state = link_state::online;
    std::int64_t cpu = 0;     // physical cores
    std::int64_t memory = 0;  // physical bytes
    load_factors load;
    std::int64_t used_cpu = 0;
    std::int64_t used_memory = 0;
    std::int64_t allocations = 0;
    std::vector<candidate_disk> disks;
};

struct placement_request {
    std::optional<std::int64_t> region_id;  // nullopt: any region
    std::int64_t vcpus = 0;
    std::int64_t memory = 0;  // bytes
    std::int64_t disk = 0;    // bytes
    // A paid-for kind or interface is a requirement, never a hint; nullopt accepts any.
    std::optional<disk_kind> kind;
    std::optional<disk_interface> interface;
};

// LNVPS `calculated_load`: loads are fractions of the overcommitted capacity (0 = empty, 1 = full).
struct calculated_load {
    double overall_load = 0;
    double cpu_load = 0;
    double memory_load = 0;
    double disk_load = 0;  // mean over the host's enabled disks
    std::int64_t available_cpu = 0;
    std::int64_t available_memory = 0;
    std::int64_t active_vms = 0;
};
calculated_load calculate_load(const candidate_host& host);

// Bytes still free on a disk once its load factor is applied.
std::int64_t available_disk(const candidate_disk& disk, const load_factors& load);

struct placement {
    std::int64_t host_id = 0;
    std::int64_t disk_id = 0;
};

enum class no_fit_reason {
    invalid_request,      // vcpus, memory or disk not positive
    no_host_in_region,    // no host at all in the region (or the fleet)
    no_available_host,    // hosts exist, but none is enabled, online and in an enabled region
    no_matching_disk,     // no available host has an enabled disk of the requested kind/interface
    insufficient_cpu,     // hosts with a matching disk exist, but are full; the reason names the
    insufficient_memory,  // resource most of them lack
    insufficient_disk,
    contended,  // only from reservations::place: every attempt lost its host to another placement
};
const char* to_string(no_fit_reason r);

struct no_fit {
    no_fit_reason reason = no_fit_reason::no_host_in_region;
    // Of the hosts with a matching disk, how many lack each resource (a host may lack several).
    std::int64_t hosts_checked = 0;
    std::int64_t short_of_cpu = 0;
    std::int64_t short_of_memory = 0;
    std::int64_t short_of_disk = 0;
};
// A sentence for an operator or a customer: "no host has 4 free vCPUs (12 of 12 hosts are full)".
std::string describe(const no_fit& n, const placement_request& request);

using placement_result = std::variant<placement, no_fit>;

// At least one vCPU and some memory and disk; choose_placement refuses anything else.
bool is_valid(const placement_request& request);

placement_result choose_placement(std::span<const candidate_host> hosts,
                                  const placement_request& request);

// Every host that takes the request, best first: what choose_placement picks, then what it would
// pick were that host gone, and so on. Empty when nothing fits (choose_placement says why).
std::vector<placement> rank_placements(std::span<const candidate_host> hosts,
                                       const placement_request& request);

}  // namespace vpsfleet::scheduler
