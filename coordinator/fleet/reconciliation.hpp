#pragma once
// Reconciliation: compares a host's reported inventory (host_domains) with the instances the
// database places on it, records what differs as drift findings (missing, unmanaged, drift),
// resolves the findings that no longer hold and takes the settled instances' power state from
// what the host reports. It only records: nothing is destroyed, recreated, started or stopped.
// Blocking calls: run them through store::database.
#include "coordinator/fleet/fleet_metrics.hpp"

#include <pqxx/pqxx>

#include <cstdint>
#include <map>
#include <string>

namespace vpsfleet::fleet {

struct reconciliation {
    std::map<std::string, int> found;     // new findings by kind
    std::map<std::string, int> resolved;  // findings that no longer hold, by kind
    int power_updates = 0;                // instances whose power state was taken from the host
};

reconciliation reconcile_host(pqxx::connection& conn, std::int64_t host_id);

// Holds the host's reconciliation off until the transaction ends. A change that makes a domain
// managed (an import) takes it first, so that a reconciliation never judges the host on the
// instances from before the change and the findings from after it.
void lock_host_reconciliation(pqxx::transaction_base& tx, std::int64_t host_id);

// Counts the findings in /metrics and logs the new ones.
void report(const reconciliation& r, std::int64_t host_id, fleet_metrics& metrics);

}  // namespace vpsfleet::fleet
