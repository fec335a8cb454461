#include "coordinator/scheduler/reservations.hpp"

#include <algorithm>

namespace vpsfleet::scheduler {

namespace {

constexpr int k_attempts = 5;

// Hosts and their disks come in two queries: joined, PostgreSQL would build and ship one wide
// row per disk, which for 10,000 hosts costs about twice as much. The two reads may see slightly
// different moments; that only affects the first guess, never the check made under the lock.
constexpr const char* k_hosts_select =
    "SELECT h.id, h.region_id, h.enabled, r.enabled, h.state, h.cpu, h.memory, "
    "       (h.load_cpu * 1000)::bigint, (h.load_memory * 1000)::bigint, "
    "       (h.load_disk * 1000)::bigint, c.used_cpu, c.used_memory, c.allocations "
    "  FROM hosts h "
    "  JOIN regions r ON r.id = h.region_id "
    "  JOIN host_capacity c ON c.host_id = h.id ";
constexpr const char* k_disks_select =
    "SELECT d.host_id, d.id, d.kind, d.interface, d.enabled, d.size, d.used FROM host_disks d ";

std::vector<candidate_host> to_candidates(const pqxx::result& host_rows,
                                          const pqxx::result& disk_rows) {
    std::vector<candidate_host> out;
    out.reserve(host_rows.size());
    for (const auto& row : host_rows) {
        candidate_host h;
        h.id = row[0].as<std::int64_t>();
        h.region_id = row[1].as<std::int64_t>();
        h.enabled = row[2].as<bool>();
        h.region_enabled = row[3].as<bool>();
        // An unknown state is never `online`, so such a host takes nothing.
        h.state = parse_link_state(row[4].c_str()).value_or(link_state::down);
        h.cpu = row[5].as<std::int64_t>();
        h.memory = row[6].as<std::int64_t>();
        h.load = {row[7].as<std::int64_t>(), row[8].as<std::int64_t>(), row[9].as<std::int64_t>()};
        h.used_cpu = row[10].as<std::int64_t>();
        h.used_memory = row[11].as<std::int64_t>();
        h.allocations = row[12].as<std::int64_t>();
        out.push_back(std::move(h));
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });

    for (const auto& row : disk_rows) {
        const auto host_id = row[0].as<std::int64_t>();
        const auto host =
            std::lower_bound(out.begin(), out.end(), host_id,
                             [](const auto& h, std::int64_t id) { return h.id < id; });
        // A disk added after the hosts were read has no host here; the next read will show it.
        if (host == out.end() || host->id != host_id) continue;
        const auto kind = parse_disk_kind(row[2].c_str());
        const auto interface = parse_disk_interface(row[3].c_str());
        if (!kind || !interface) continue;  // the table's CHECKs make this unreachable
        host->disks.push_back({row[1].as<std::int64_t>(), *kind, *interface, row[4].as<bool>(),
                               row[5].as<std::int64_t>(), row[6].as<std::int64_t>()});
    }
    for (auto& h : out) {
        std::sort(h.disks.begin(), h.disks.end(),
                  [](const auto& a, const auto& b) { return a.id < b.id; });
    }
    return out;
}

// Locks the host's capacity row, then reads the host again: a statement started after the lock
// was granted sees every reservation committed by whoever held it before.
std::optional<candidate_host> lock_and_read(pqxx::work& tx, std::int64_t host_id) {
    const auto locked =
        tx.exec_params("SELECT 1 FROM host_capacity WHERE host_id = $1 FOR UPDATE", host_id);
    if (locked.empty()) return std::nullopt;
    return read_candidate(tx, host_id);
}

std::int64_t insert_allocation(pqxx::work& tx, const placement& where,
                               const placement_request& request, const std::string& owner,
                               std::optional<std::int64_t> vm_id) {
    return tx
        .exec_params1(
            "INSERT INTO host_allocations (host_id, disk_id, cpu, memory, disk, owner, vm_id) "
            "VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7 THEN $8::bigint END) RETURNING id",
            where.host_id, where.disk_id, request.vcpus, request.memory, request.disk, owner,
            vm_id.has_value(), vm_id.value_or(0))[0]
        .as<std::int64_t>();
}

}  // namespace

std::vector<candidate_host> read_candidates(pqxx::transaction_base& tx,
                                            std::optional<std::int64_t> region_id) {
    if (region_id) {
        const auto hosts =
            tx.exec_params(std::string(k_hosts_select) + "WHERE h.region_id = $1", *region_id);
        const auto disks =
            tx.exec_params(std::string(k_disks_select) +
                               "WHERE d.host_id IN (SELECT id FROM hosts WHERE region_id = $1)",
                           *region_id);
        return to_candidates(hosts, disks);
    }
    const auto hosts = tx.exec(k_hosts_select);
    const auto disks = tx.exec(k_disks_select);
    return to_candidates(hosts, disks);
}

std::optional<candidate_host> read_candidate(pqxx::transaction_base& tx, std::int64_t host_id) {
    const auto hosts = tx.exec_params(std::string(k_hosts_select) + "WHERE h.id = $1", host_id);
    const auto disks =
        tx.exec_params(std::string(k_disks_select) + "WHERE d.host_id = $1", host_id);
    auto out = to_candidates(hosts, disks);
    if (out.empty()) return std::nullopt;
    return std::move(out.front());
}

place_result place(pqxx::connection& conn, const placement_request& request,
                   const std::string& owner, std::optional<std::int64_t> vm_id) {
    for (int attempt = 0; attempt < k_attempts; ++attempt) {
        try {
            pqxx::work tx(conn);
            const auto hosts = read_candidates(tx, request.region_id);
            const auto chosen = choose_placement(hosts, request);
            if (const auto* none = std::get_if<no_fit>(&chosen)) return *none;

            // Another placement may have filled the host since the read: check again under the
            // lock, on the host as it is now (the disk may change too; the host may not).
            const auto host = lock_and_read(tx, std::get<placement>(chosen).host_id);
            if (!host) continue;
            const auto again = choose_placement(std::span(&*host, 1), request);
            const auto* where = std::get_if<placement>(&again);
            if (!where) continue;

            const auto id = insert_allocation(tx, *where, request, owner, vm_id);
            tx.commit();
            return reservation{id, where->host_id, where->disk_id};
        } catch (const pqxx::deadlock_detected&) {
            // Only possible with writers outside this module (an admin editing the same rows).
        } catch (const pqxx::serialization_failure&) {
        }
    }
    return no_fit{no_fit_reason::contended};
}

bool release(pqxx::connection& conn, std::int64_t allocation_id) {
    pqxx::work tx(conn);
    const auto deleted =
        tx.exec_params("DELETE FROM host_allocations WHERE id = $1", allocation_id).affected_rows();
    tx.commit();
    return deleted > 0;
}

}  // namespace vpsfleet::scheduler
