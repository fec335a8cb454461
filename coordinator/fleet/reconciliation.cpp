#include "coordinator/fleet/reconciliation.hpp"

#include "common/log.hpp"

namespace vpsfleet::fleet {

namespace {

// The power state an instance has when its domain is in `state` (libvirt's state names as the
// agent reports them); a paused or suspended guest is neither.
constexpr const char* k_power_of_domain =
    "CASE WHEN d.state IN ('running', 'blocked') THEN 'running' "
    "WHEN d.state IN ('shutoff', 'crashed') THEN 'stopped' ELSE 'unknown' END";

// Instances whose status is final (running or stopped) and that no job is acting on: only these
// can be missing or drift, since a job moves a domain through in-between states on purpose.
constexpr const char* k_settled =
    "i.status IN ('running', 'stopped') AND NOT EXISTS (SELECT 1 FROM jobs j WHERE "
    "j.target = i.uid AND j.exclusive AND j.state IN ('pending', 'running'))";

// pg_advisory_xact_lock(class, host id): the class keeps these apart from other advisory locks.
constexpr int k_reconciliation_lock_class = 0x7266;  // "rf"

std::string findings_sql() {
    const std::string settled = k_settled;
    const std::string power = k_power_of_domain;
    return "WITH live AS (SELECT i.id, i.uid, i.status, i.libvirt_uuid::text AS uuid, (" + settled +
           ") AS settled FROM instances i WHERE i.host_id = $1 AND i.deleted_at IS NULL), "
           "found AS ("
           " SELECT 'missing' AS kind, l.uuid, l.id AS instance_id, l.uid AS name, "
           "   l.status AS expected, NULL::text AS observed FROM live l WHERE l.settled AND "
           "   NOT EXISTS (SELECT 1 FROM host_domains d WHERE d.host_id = $1 AND d.uuid = l.uuid)"
           " UNION ALL"
           " SELECT 'unmanaged', d.uuid, NULL, d.name, NULL, d.state FROM host_domains d "
           "   WHERE d.host_id = $1 AND NOT EXISTS (SELECT 1 FROM live l WHERE l.uuid = d.uuid)"
           " UNION ALL"
           " SELECT 'drift', l.uuid, l.id, l.uid, l.status, d.state FROM live l JOIN host_domains "
           "   d ON d.host_id = $1 AND d.uuid = l.uuid WHERE l.settled AND " +
           power +
           " <> l.status), "
           "upserted AS ("
           " INSERT INTO drift_findings (host_id, kind, domain_uuid, instance_id, resource_name, "
           "   expected, observed) SELECT $1, kind, uuid, instance_id, name, expected, observed "
           "   FROM found "
           " ON CONFLICT (host_id, kind, domain_uuid) WHERE resolved_at IS NULL DO UPDATE SET "
           "   instance_id = excluded.instance_id, resource_name = excluded.resource_name, "
           "   expected = excluded.expected, observed = excluded.observed, last_seen_at = now() "
           " RETURNING kind, (xmax = 0) AS fresh), "
           "resolved AS ("
           " UPDATE drift_findings f SET resolved_at = now() WHERE f.host_id = $1 AND "
           "   f.resolved_at IS NULL AND NOT EXISTS (SELECT 1 FROM found WHERE "
           "   found.kind = f.kind AND found.uuid = f.domain_uuid) RETURNING f.kind) "
           "SELECT 'found', kind, count(*) FROM upserted WHERE fresh GROUP BY kind "
           "UNION ALL SELECT 'resolved', kind, count(*) FROM resolved GROUP BY kind";
}

std::string power_sql() {
    const std::string settled = k_settled;
    const std::string power = k_power_of_domain;
    return "UPDATE instances i SET power_state = " + power +
           " FROM host_domains d WHERE i.host_id = $1 AND i.deleted_at IS NULL AND "
           "d.host_id = $1 AND d.uuid = i.libvirt_uuid::text AND " +
           settled + " AND i.power_state <> " + power;
}

}  // namespace

void lock_host_reconciliation(pqxx::transaction_base& tx, std::int64_t host_id) {
    tx.exec_params("SELECT pg_advisory_xact_lock($1, $2)", k_reconciliation_lock_class,
                   static_cast<int>(host_id));
}

reconciliation reconcile_host(pqxx::connection& conn, std::int64_t host_id) {
    static const std::string findings = findings_sql();
    static const std::string power = power_sql();
    pqxx::work tx(conn);
    lock_host_reconciliation(tx, host_id);
    reconciliation out;
    for (const auto& row : tx.exec_params(findings, host_id)) {
        auto& counts = row[0].as<std::string>() == "found" ? out.found : out.resolved;
        counts[row[1].as<std::string>()] = row[2].as<int>();
    }
    out.power_updates = static_cast<int>(tx.exec_params(power, host_id).affected_rows());
    tx.commit();
    return out;
}

void report(const reconciliation& r, std::int64_t host_id, fleet_metrics& metrics) {
    metrics.reconciled(r.found, r.resolved);
    for (const auto& [kind, n] : r.found) {
        log::warn("host differs from the database",
                  {{"host_id", host_id}, {"kind", kind}, {"count", n}});
    }
}

}  // namespace vpsfleet::fleet
