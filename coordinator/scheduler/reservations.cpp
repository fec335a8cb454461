#include "coordinator/scheduler/reservations.hpp"

#include <algorithm>

namespace vpsfleet::scheduler {

namespace {

constexpr int k_attempts = 5;
// How many of the least-loaded hosts that fit a placement reads. The first is the choice; the
// rest are where concurrent placements go when it is taken (see lock_and_read).
constexpr int k_short_list = 16;

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

// The hosts that fit, by the same test as placement.cpp (host_overcommitted is overcommitted(),
// in integers), walked in host_load order: host_load.load is calculate_load().overall_load made
// by the same double arithmetic (migration 0006), so this is the head of rank_placements over the
// whole fleet (or region), read through an index instead of the whole fleet. The test sits in a
// LATERAL subquery kept apart by OFFSET 0: the planner cannot guess how many hosts pass it and,
// left to itself, joins and sorts every host of a region; this way it walks the index and stops
// at the limit. The disks come one row each: for a few hosts that is cheaper than another round
// trip. $6 is the region, when the request has one.
constexpr const char* k_short_list_head =
    "WITH short AS MATERIALIZED ("
    "  SELECT f.*, l.load FROM host_load l CROSS JOIN LATERAL ("
    "    SELECT h.id, h.region_id, h.enabled, r.enabled AS region_enabled, h.state, h.cpu, "
    "           h.memory, (h.load_cpu * 1000)::bigint AS cpu_milli, "
    "           (h.load_memory * 1000)::bigint AS memory_milli, "
    "           (h.load_disk * 1000)::bigint AS disk_milli, c.used_cpu, c.used_memory, "
    "           c.allocations "
    "      FROM hosts h "
    "      JOIN regions r ON r.id = h.region_id "
    "      JOIN host_capacity c ON c.host_id = h.id "
    "     WHERE h.id = l.host_id AND h.region_id = l.region_id "
    "       AND h.enabled AND h.state = 'online' AND r.enabled "
    "       AND host_overcommitted(h.cpu, h.load_cpu) - c.used_cpu >= $1 "
    "       AND host_overcommitted(h.memory, h.load_memory) - c.used_memory >= $2 "
    "       AND EXISTS (SELECT 1 FROM host_disks d "
    "                    WHERE d.host_id = h.id AND d.enabled "
    "                      AND ($3 = '' OR d.kind = $3) AND ($4 = '' OR d.interface = $4) "
    "                      AND host_overcommitted(d.size, h.load_disk) - d.used >= $5) "
    "    OFFSET 0) f ";
constexpr const char* k_short_list_region = "WHERE l.region_id = $6 ";
constexpr const char* k_short_list_order = "   ORDER BY l.load, l.host_id LIMIT ";
constexpr const char* k_short_list_tail =
    ") "
    "SELECT s.id, s.region_id, s.enabled, s.region_enabled, s.state, s.cpu, s.memory, "
    "       s.cpu_milli, s.memory_milli, s.disk_milli, s.used_cpu, s.used_memory, s.allocations, "
    "       d.host_id, d.id, d.kind, d.interface, d.enabled, d.size, d.used "
    "  FROM short s JOIN host_disks d ON d.host_id = s.id "
    " ORDER BY s.load, s.id, d.id";

// Columns 0-12 of k_hosts_select.
candidate_host host_from(const pqxx::row& row) {
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
    return h;
}

// The columns of k_disks_select, from `at` on; nullopt for a kind or interface the table's
// CHECKs make impossible.
std::optional<candidate_disk> disk_from(const pqxx::row& row, pqxx::row::size_type at) {
    const auto kind = parse_disk_kind(row[at + 2].c_str());
    const auto interface = parse_disk_interface(row[at + 3].c_str());
    if (!kind || !interface) return std::nullopt;
    return candidate_disk{row[at + 1].as<std::int64_t>(),
                          *kind,
                          *interface,
                          row[at + 4].as<bool>(),
                          row[at + 5].as<std::int64_t>(),
                          row[at + 6].as<std::int64_t>()};
}

std::vector<candidate_host> to_candidates(const pqxx::result& host_rows,
                                          const pqxx::result& disk_rows) {
    std::vector<candidate_host> out;
    out.reserve(host_rows.size());
    for (const auto& row : host_rows) out.push_back(host_from(row));
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });

    for (const auto& row : disk_rows) {
        const auto host_id = row[0].as<std::int64_t>();
        const auto host =
            std::lower_bound(out.begin(), out.end(), host_id,
                             [](const auto& h, std::int64_t id) { return h.id < id; });
        // A disk added after the hosts were read has no host here; the next read will show it.
        if (host == out.end() || host->id != host_id) continue;
        if (auto disk = disk_from(row, 0)) host->disks.push_back(*disk);
    }
    for (auto& h : out) {
        std::sort(h.disks.begin(), h.disks.end(),
                  [](const auto& a, const auto& b) { return a.id < b.id; });
    }
    return out;
}

// Locks a host's capacity row, then reads the host again: a statement started after the lock was
// granted sees every reservation committed by whoever held it before.
//
// Concurrent placements all rank the same host first and would queue on its lock, each then
// finding it a little fuller. So the first host of `ranked` whose row nobody holds is taken
// (SKIP LOCKED; LIMIT 1 stops the locking at that row), and only when every one is held does this
// wait, for the best. A placement that meets no other, as every sequential one, takes the best:
// the least-loaded host, lowest id on ties, exactly as choose_placement over the whole fleet.
std::optional<candidate_host> lock_and_read(pqxx::work& tx, const std::vector<placement>& ranked) {
    if (ranked.size() > 1) {
        std::string ids = "{";
        for (const auto& p : ranked) ids += std::to_string(p.host_id) + ",";
        ids.back() = '}';
        const auto unheld = tx.exec_params(
            "SELECT host_id FROM host_capacity WHERE host_id = ANY($1::bigint[]) "
            " ORDER BY array_position($1::bigint[], host_id) LIMIT 1 FOR UPDATE SKIP LOCKED",
            ids);
        if (!unheld.empty()) return read_candidate(tx, unheld[0][0].as<std::int64_t>());
    }
    const auto locked = tx.exec_params("SELECT 1 FROM host_capacity WHERE host_id = $1 FOR UPDATE",
                                       ranked.front().host_id);
    if (locked.empty()) return std::nullopt;
    return read_candidate(tx, ranked.front().host_id);
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

std::vector<candidate_host> read_short_list(pqxx::transaction_base& tx,
                                            const placement_request& request, int limit) {
    // Prepared once per connection (the same definition again is a no-op): planning this query
    // costs more than running it. The limit is written in, not a parameter, so that the generic
    // plan knows the short list is short.
    const auto name =
        std::string(request.region_id ? "scheduler_short_list_region_" : "scheduler_short_list_") +
        std::to_string(limit);
    tx.conn().prepare(name, std::string(k_short_list_head) +
                                (request.region_id ? k_short_list_region : "") +
                                k_short_list_order + std::to_string(limit) + k_short_list_tail);
    const std::string kind = request.kind ? to_string(*request.kind) : "";
    const std::string interface = request.interface ? to_string(*request.interface) : "";
    const auto rows =
        request.region_id
            ? tx.exec_prepared(name, request.vcpus, request.memory, kind, interface, request.disk,
                               *request.region_id)
            : tx.exec_prepared(name, request.vcpus, request.memory, kind, interface, request.disk);

    std::vector<candidate_host> out;
    for (const auto& row : rows) {
        if (out.empty() || out.back().id != row[0].as<std::int64_t>())
            out.push_back(host_from(row));
        if (auto disk = disk_from(row, 13)) out.back().disks.push_back(*disk);
    }
    return out;
}

std::optional<candidate_host> read_candidate(pqxx::transaction_base& tx, std::int64_t host_id) {
    // Prepared once per connection, as the short list is: every placement runs these.
    tx.conn().prepare("scheduler_host", std::string(k_hosts_select) + "WHERE h.id = $1");
    tx.conn().prepare("scheduler_host_disks", std::string(k_disks_select) + "WHERE d.host_id = $1");
    const auto hosts = tx.exec_prepared("scheduler_host", host_id);
    const auto disks = tx.exec_prepared("scheduler_host_disks", host_id);
    auto out = to_candidates(hosts, disks);
    if (out.empty()) return std::nullopt;
    return std::move(out.front());
}

place_result place(pqxx::connection& conn, const placement_request& request,
                   const std::string& owner, std::optional<std::int64_t> vm_id) {
    if (!is_valid(request)) return no_fit{no_fit_reason::invalid_request};
    for (int attempt = 0; attempt < k_attempts; ++attempt) {
        try {
            pqxx::work tx(conn);
            auto ranked = rank_placements(read_short_list(tx, request, k_short_list), request);
            if (ranked.empty()) {
                // Nothing fits on the short list: read every host, so that a refusal names
                // exactly what is missing (and a host freed since the short list is still seen).
                const auto chosen =
                    choose_placement(read_candidates(tx, request.region_id), request);
                if (const auto* none = std::get_if<no_fit>(&chosen)) return *none;
                ranked.push_back(std::get<placement>(chosen));
            }

            // Another placement may have filled the host since the read: check again under the
            // lock, on the host as it is now (the disk may change too; the host may not).
            const auto host = lock_and_read(tx, ranked);
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

std::optional<pinned_reservation> reserve_on_host(pqxx::work& tx, std::int64_t host_id,
                                                  const placement_request& request,
                                                  const std::string& owner,
                                                  std::optional<std::int64_t> vm_id) {
    tx.exec_params("SELECT 1 FROM host_capacity WHERE host_id = $1 FOR UPDATE", host_id);
    auto host = read_candidate(tx, host_id);
    if (!host || host->disks.empty()) return std::nullopt;
    // Whether the host takes new VMs does not matter: this one is there already.
    host->enabled = true;
    host->region_enabled = true;
    host->state = link_state::online;
    auto any_disk = request;
    any_disk.kind.reset();
    any_disk.interface.reset();
    for (const auto& wanted : {request, any_disk}) {
        const auto chosen = choose_placement(std::span(&*host, 1), wanted);
        if (const auto* where = std::get_if<placement>(&chosen)) {
            return pinned_reservation{
                {insert_allocation(tx, *where, request, owner, vm_id), host_id, where->disk_id},
                true};
        }
    }
    const auto roomiest = std::ranges::max_element(host->disks, [&](const auto& a, const auto& b) {
        if (a.enabled != b.enabled) return !a.enabled;
        return available_disk(a, host->load) < available_disk(b, host->load);
    });
    const placement where{host_id, roomiest->id};
    return pinned_reservation{
        {insert_allocation(tx, where, request, owner, vm_id), host_id, where.disk_id}, false};
}

resize_outcome resize_reservation(pqxx::work& tx, std::int64_t allocation_id,
                                  const placement_request& request) {
    const auto where =
        tx.exec_params("SELECT host_id FROM host_allocations WHERE id = $1", allocation_id);
    if (where.empty()) return resize_outcome::no_reservation;
    const auto host_id = where[0][0].as<std::int64_t>();
    tx.exec_params("SELECT 1 FROM host_capacity WHERE host_id = $1 FOR UPDATE", host_id);
    // Read under the lock, which every change to the host's reservations takes.
    const auto held = tx.exec_params1(
        "SELECT disk_id, cpu, memory, disk FROM host_allocations WHERE id = $1", allocation_id);
    const auto host = read_candidate(tx, host_id);
    if (!host) return resize_outcome::no_reservation;
    const auto disk =
        std::ranges::find(host->disks, held[0].as<std::int64_t>(), &candidate_disk::id);
    if (disk == host->disks.end()) return resize_outcome::no_reservation;
    // What the reservation holds now is room this VM may grow into.
    const bool fits =
        overcommitted(host->cpu, host->load.cpu_milli) - host->used_cpu +
                held[1].as<std::int64_t>() >=
            request.vcpus &&
        overcommitted(host->memory, host->load.memory_milli) - host->used_memory +
                held[2].as<std::int64_t>() >=
            request.memory &&
        available_disk(*disk, host->load) + held[3].as<std::int64_t>() >= request.disk;
    if (!fits) return resize_outcome::no_room;
    tx.exec_params("UPDATE host_allocations SET cpu = $2, memory = $3, disk = $4 WHERE id = $1",
                   allocation_id, request.vcpus, request.memory, request.disk);
    return resize_outcome::resized;
}

bool release(pqxx::connection& conn, std::int64_t allocation_id) {
    pqxx::work tx(conn);
    const auto deleted =
        tx.exec_params("DELETE FROM host_allocations WHERE id = $1", allocation_id).affected_rows();
    tx.commit();
    return deleted > 0;
}

}  // namespace vpsfleet::scheduler
