#include "coordinator/fleet/host_registry.hpp"

namespace vpsfleet::fleet {

access_snapshot load_access_snapshot(pqxx::connection& conn) {
    access_snapshot out;
    pqxx::read_transaction tx(conn);
    for (const auto& row : tx.exec("SELECT id FROM hosts WHERE NOT enabled")) {
        out.disabled_hosts.insert(row[0].as<std::int64_t>());
    }
    for (const auto& row : tx.exec("SELECT serial FROM host_certificates WHERE revoked_at IS NOT "
                                   "NULL AND not_after > now()")) {
        out.revoked_serials.insert(row[0].as<std::string>());
    }
    return out;
}

void mark_online(pqxx::connection& conn, std::int64_t host_id, const hello_record& hello,
                 const std::string& instance) {
    pqxx::work tx(conn);
    tx.exec_params(
        // An agent whose hypervisor is down reports no facts; the last known ones stay then.
        "UPDATE hosts SET state = 'online', facts = CASE WHEN $3 > 0 THEN $2::jsonb ELSE facts "
        "END, "
        "cpu = CASE WHEN $3 > 0 THEN $3 ELSE cpu END, "
        "memory = CASE WHEN $3 > 0 THEN $4 ELSE memory END, agent_version = $5, "
        "connected_instance = $6, metrics_listen = $7, last_seen_at = now(), updated_at = now() "
        "WHERE id = $1",
        host_id, hello.facts_json, hello.cpus, hello.memory_bytes, hello.agent_version, instance,
        hello.metrics_listen);
    tx.commit();
}

void release_host(pqxx::connection& conn, std::int64_t host_id, const std::string& instance) {
    pqxx::work tx(conn);
    tx.exec_params(
        "UPDATE hosts SET connected_instance = NULL WHERE id = $1 AND connected_instance = $2",
        host_id, instance);
    tx.commit();
}

void touch_hosts(pqxx::connection& conn, const std::vector<std::int64_t>& host_ids) {
    if (host_ids.empty()) return;
    std::string array = "{";
    for (auto id : host_ids) array += (array.size() > 1 ? "," : "") + std::to_string(id);
    array += "}";
    pqxx::work tx(conn);
    // A host that was marked unreachable while its messages were in flight is online again.
    tx.exec_params(
        "UPDATE hosts SET last_seen_at = now(), state = 'online' WHERE id = ANY($1::bigint[])",
        array);
    tx.commit();
}

inventory_change record_inventory(pqxx::connection& conn, std::int64_t host_id,
                                  const std::string& domains_json) {
    static constexpr const char* incoming =
        "jsonb_to_recordset($2::jsonb) AS d(uuid text, name text, state text, config_hash text)";
    pqxx::work tx(conn);
    inventory_change out;
    out.changed =
        tx.exec_params(std::string("SELECT count(*) FROM host_domains h JOIN ") + incoming +
                           " ON d.uuid = h.uuid WHERE h.host_id = $1 AND "
                           "(h.state <> d.state OR h.config_hash <> d.config_hash)",
                       host_id, domains_json)[0][0]
            .as<int>();
    out.removed = static_cast<int>(
        tx.exec_params(std::string("DELETE FROM host_domains WHERE host_id = $1 AND uuid NOT IN "
                                   "(SELECT d.uuid FROM ") +
                           incoming + ")",
                       host_id, domains_json)
            .affected_rows());
    for (const auto& row : tx.exec_params(
             std::string("INSERT INTO host_domains (host_id, uuid, name, state, config_hash) "
                         "SELECT $1, d.uuid, d.name, d.state, d.config_hash FROM ") +
                 incoming +
                 " ON CONFLICT (host_id, uuid) DO UPDATE SET name = excluded.name, state = "
                 "excluded.state, "
                 "config_hash = excluded.config_hash, seen_at = now() RETURNING (xmax = 0)",
             host_id, domains_json)) {
        if (row[0].as<bool>()) ++out.added;
    }
    tx.commit();
    return out;
}

std::vector<state_change> expire_leases(pqxx::connection& conn, std::chrono::milliseconds lease) {
    pqxx::work tx(conn);
    const auto ms = static_cast<long long>(lease.count());
    std::vector<state_change> changes;
    for (const auto& row :
         // What runs on a down host is not known: its instances are `unknown`, never `stopped`.
         tx.exec_params("WITH down AS (UPDATE hosts SET state = 'down', updated_at = now() "
                        "WHERE state IN ('online', 'unreachable') AND last_seen_at < now() - "
                        "make_interval(secs => $1::bigint * 2 / 1000.0) RETURNING id), "
                        "vms AS (UPDATE instances SET power_state = 'unknown' WHERE host_id IN "
                        "(SELECT id FROM down) AND deleted_at IS NULL) "
                        "SELECT id FROM down",
                        ms)) {
        changes.push_back({row[0].as<std::int64_t>(), "down"});
    }
    for (const auto& row :
         tx.exec_params("UPDATE hosts SET state = 'unreachable', updated_at = now() "
                        "WHERE state = 'online' AND last_seen_at < now() - make_interval(secs => "
                        "$1::bigint / 1000.0) "
                        "RETURNING id",
                        ms)) {
        changes.push_back({row[0].as<std::int64_t>(), "unreachable"});
    }
    tx.commit();
    return changes;
}

}  // namespace vpsfleet::fleet
