#pragma once
// What the fleet link writes about hosts: facts from hello, who holds the link, when each host was
// last heard from, and the lease-driven state: online -> unreachable (one lease missed) -> down
// (two). Blocking calls: run them through store::database.
#include <pqxx/pqxx>

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace vpsfleet::fleet {

// Whether a host may hold a link (exists and enabled) and whether the certificate is revoked.
struct access_snapshot {
    std::set<std::int64_t> disabled_hosts;
    std::set<std::string> revoked_serials;
};
access_snapshot load_access_snapshot(pqxx::connection& conn);

// What a hello says about its host.
struct hello_record {
    std::string facts_json;
    std::int64_t cpus = 0;  // 0: the hypervisor is down; the last known facts stay
    std::int64_t memory_bytes = 0;
    std::string agent_version;
    std::optional<std::string> metrics_listen;  // a valid "host:port", or none
};
// Records the hello: facts, agent version, state online, the instance holding the link.
void mark_online(pqxx::connection& conn, std::int64_t host_id, const hello_record& hello,
                 const std::string& instance);
// The link closed: release it unless another instance took the host meanwhile.
void release_host(pqxx::connection& conn, std::int64_t host_id, const std::string& instance);
void touch_hosts(pqxx::connection& conn, const std::vector<std::int64_t>& host_ids);

// Replaces the host's observed inventory with what its agent just reported.
struct inventory_change {
    int added = 0;
    int removed = 0;
    int changed = 0;  // state or configuration differs from the last report
};
inventory_change record_inventory(pqxx::connection& conn, std::int64_t host_id,
                                  const std::string& domains_json);

struct state_change {
    std::int64_t host_id;
    std::string state;
};
// Moves hosts whose lease ran out; returns the hosts that changed state.
std::vector<state_change> expire_leases(pqxx::connection& conn, std::chrono::milliseconds lease);

}  // namespace vpsfleet::fleet
