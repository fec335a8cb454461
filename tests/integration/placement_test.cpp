#include "coordinator/scheduler/reservations.hpp"
#include "coordinator/store/migrations.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <memory>
#include <thread>
#include <vector>

using namespace vpsfleet;
using scheduler::no_fit_reason;

namespace {

constexpr std::int64_t k_gib = 1024LL * 1024 * 1024;

std::string migrated_database() {
    auto url = vpsfleet::testing::fresh_database();
    pqxx::connection conn(url);
    store::apply_migrations(conn, store::embedded_migrations());
    return url;
}

// An online host in the default region with one SSD; returns {host id, disk id}.
std::pair<std::int64_t, std::int64_t> add_host(pqxx::connection& conn, const std::string& name,
                                               int cpu, std::int64_t memory, std::int64_t disk,
                                               const std::string& load_cpu = "1.0",
                                               const std::string& region = "default") {
    pqxx::work tx(conn);
    const auto host = tx.exec_params1(
                            "INSERT INTO hosts (name, region_id, cpu, memory, load_cpu, state) "
                            "SELECT $1, id, $2, $3, $4::numeric, 'online' FROM regions "
                            "WHERE name = $5 RETURNING id",
                            name, cpu, memory, load_cpu, region)[0]
                          .as<std::int64_t>();
    const auto disk_id = tx.exec_params1(
                               "INSERT INTO host_disks (host_id, name, size, kind, interface) "
                               "VALUES ($1, 'main', $2, 'ssd', 'pcie') RETURNING id",
                               host, disk)[0]
                             .as<std::int64_t>();
    tx.commit();
    return {host, disk_id};
}

scheduler::placement_request request(int vcpus, std::int64_t memory = k_gib,
                                     std::int64_t disk = 10 * k_gib) {
    scheduler::placement_request r;
    r.vcpus = vcpus;
    r.memory = memory;
    r.disk = disk;
    return r;
}

struct totals {
    std::int64_t cpu, memory, disk, rows, capacity_cpu, capacity_memory, disk_used;
};

// What host_allocations holds for a host, next to the totals the triggers keep.
totals totals_of(pqxx::connection& conn, std::int64_t host) {
    const auto row = pqxx::read_transaction(conn).exec_params1(
        "SELECT coalesce(sum(a.cpu), 0), coalesce(sum(a.memory), 0), coalesce(sum(a.disk), 0), "
        "       count(a.id), c.used_cpu, c.used_memory, "
        "       (SELECT sum(used) FROM host_disks WHERE host_id = $1) "
        "  FROM host_capacity c LEFT JOIN host_allocations a ON a.host_id = c.host_id "
        " WHERE c.host_id = $1 GROUP BY c.used_cpu, c.used_memory",
        host);
    return {row[0].as<std::int64_t>(), row[1].as<std::int64_t>(), row[2].as<std::int64_t>(),
            row[3].as<std::int64_t>(), row[4].as<std::int64_t>(), row[5].as<std::int64_t>(),
            row[6].as<std::int64_t>()};
}

}  // namespace

TEST(placement, hundred_concurrent_placements_never_overcommit_a_nearly_full_host) {
    const auto url = migrated_database();
    pqxx::connection admin(url);
    // 32 vCPUs, 18 already taken by an earlier tenant: room for seven more 2-vCPU VMs.
    const auto [host, disk] = add_host(admin, "hv1", 32, 1024 * k_gib, 100'000 * k_gib);
    {
        pqxx::work tx(admin);
        tx.exec_params(
            "INSERT INTO host_allocations (host_id, disk_id, cpu, memory, disk, owner) "
            "VALUES ($1, $2, 18, $3, $4, 'earlier')",
            host, disk, 64 * k_gib, 100 * k_gib);
        tx.commit();
    }

    constexpr int k_placers = 100;
    std::latch start(k_placers);
    std::atomic<int> placed{0};
    std::atomic<int> refused_for_cpu{0};
    std::atomic<int> other{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < k_placers; ++i) {
        threads.emplace_back([&, i] {
            pqxx::connection conn(url);
            start.arrive_and_wait();
            const auto result = scheduler::place(conn, request(2), "vm:" + std::to_string(i));
            if (const auto* r = std::get_if<scheduler::reservation>(&result)) {
                placed += r->host_id == host ? 1 : 0;
            } else if (std::get<scheduler::no_fit>(result).reason ==
                       no_fit_reason::insufficient_cpu) {
                ++refused_for_cpu;
            } else {
                ++other;
            }
        });
    }
    for (auto& t : threads) t.join();

    EXPECT_EQ(placed.load(), 7);
    EXPECT_EQ(refused_for_cpu.load(), 93);
    EXPECT_EQ(other.load(), 0);
    const auto t = totals_of(admin, host);
    EXPECT_EQ(t.cpu, 32);
    EXPECT_EQ(t.rows, 8);
    EXPECT_EQ(t.capacity_cpu, t.cpu);
    EXPECT_EQ(t.capacity_memory, t.memory);
    EXPECT_EQ(t.disk_used, t.disk);
}

TEST(placement, concurrent_placements_fill_several_hosts_exactly_to_their_overcommit) {
    const auto url = migrated_database();
    pqxx::connection admin(url);
    // Capacities 6 (4 cores at 1.5), 4 and 2 vCPUs: 12 one-vCPU VMs fit in all.
    const std::vector<std::int64_t> hosts{
        add_host(admin, "a", 4, 64 * k_gib, 1000 * k_gib, "1.5").first,
        add_host(admin, "b", 4, 64 * k_gib, 1000 * k_gib).first,
        add_host(admin, "c", 2, 64 * k_gib, 1000 * k_gib).first};
    const std::vector<std::int64_t> capacity{6, 4, 2};

    constexpr int k_placers = 40;
    std::latch start(k_placers);
    std::atomic<int> placed{0};
    std::atomic<int> refused{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < k_placers; ++i) {
        threads.emplace_back([&] {
            pqxx::connection conn(url);
            start.arrive_and_wait();
            const auto result = scheduler::place(conn, request(1), "test");
            if (std::holds_alternative<scheduler::reservation>(result)) {
                ++placed;
            } else if (std::get<scheduler::no_fit>(result).reason ==
                       no_fit_reason::insufficient_cpu) {
                ++refused;
            }
        });
    }
    for (auto& t : threads) t.join();

    EXPECT_EQ(placed.load(), 12);
    EXPECT_EQ(refused.load(), 28);
    for (std::size_t i = 0; i < hosts.size(); ++i) {
        const auto t = totals_of(admin, hosts[i]);
        EXPECT_EQ(t.cpu, capacity[i]) << "host " << i;
        EXPECT_EQ(t.capacity_cpu, t.cpu);
    }
}

TEST(placement, release_gives_the_capacity_back) {
    const auto url = migrated_database();
    pqxx::connection conn(url);
    const auto [host, disk] = add_host(conn, "hv1", 4, 8 * k_gib, 100 * k_gib);

    std::vector<std::int64_t> ids;
    for (int i = 0; i < 2; ++i) {
        const auto result = scheduler::place(conn, request(2, 2 * k_gib, 30 * k_gib), "vm", 40 + i);
        ASSERT_TRUE(std::holds_alternative<scheduler::reservation>(result));
        const auto& r = std::get<scheduler::reservation>(result);
        EXPECT_EQ(r.host_id, host);
        EXPECT_EQ(r.disk_id, disk);
        ids.push_back(r.allocation_id);
    }
    auto full = scheduler::place(conn, request(1), "vm");
    ASSERT_TRUE(std::holds_alternative<scheduler::no_fit>(full));
    EXPECT_EQ(std::get<scheduler::no_fit>(full).reason, no_fit_reason::insufficient_cpu);
    EXPECT_EQ(pqxx::read_transaction(conn)
                  .exec_params1("SELECT vm_id FROM host_allocations WHERE id = $1", ids[1])[0]
                  .as<std::int64_t>(),
              41);

    EXPECT_TRUE(scheduler::release(conn, ids[0]));
    EXPECT_FALSE(scheduler::release(conn, ids[0]));
    const auto t = totals_of(conn, host);
    EXPECT_EQ(t.capacity_cpu, 2);
    EXPECT_EQ(t.capacity_memory, 2 * k_gib);
    EXPECT_EQ(t.disk_used, 30 * k_gib);
    EXPECT_TRUE(std::holds_alternative<scheduler::reservation>(
        scheduler::place(conn, request(2, 2 * k_gib, 30 * k_gib), "vm")));
}

TEST(placement, reads_hosts_regions_and_disks_from_the_database) {
    const auto url = migrated_database();
    pqxx::connection conn(url);
    {
        pqxx::work tx(conn);
        tx.exec("INSERT INTO regions (name) VALUES ('eu'), ('closed')");
        tx.exec("UPDATE regions SET enabled = false WHERE name = 'closed'");
        tx.commit();
    }
    const auto busy = add_host(conn, "busy", 8, 64 * k_gib, 1000 * k_gib, "1.0", "eu").first;
    const auto idle = add_host(conn, "idle", 8, 64 * k_gib, 1000 * k_gib, "1.0", "eu").first;
    add_host(conn, "closed", 64, 64 * k_gib, 1000 * k_gib, "1.0", "closed");
    const auto eu = pqxx::read_transaction(conn)
                        .exec1("SELECT id FROM regions WHERE name = 'eu'")[0]
                        .as<std::int64_t>();
    ASSERT_TRUE(std::holds_alternative<scheduler::reservation>(
        scheduler::place(conn, request(4), "first")));

    auto r = request(2);
    r.region_id = eu;
    auto result = scheduler::place(conn, r, "second");
    ASSERT_TRUE(std::holds_alternative<scheduler::reservation>(result));
    // The first went to `busy` (lowest id among equals), so the second goes to `idle`.
    EXPECT_EQ(std::get<scheduler::reservation>(result).host_id, idle);
    EXPECT_EQ(totals_of(conn, busy).capacity_cpu, 4);

    {
        pqxx::work tx(conn);
        tx.exec_params("UPDATE hosts SET state = 'unreachable' WHERE id = $1", idle);
        tx.exec_params("UPDATE hosts SET enabled = false WHERE id = $1", busy);
        tx.commit();
    }
    result = scheduler::place(conn, r, "third");
    ASSERT_TRUE(std::holds_alternative<scheduler::no_fit>(result));
    EXPECT_EQ(std::get<scheduler::no_fit>(result).reason, no_fit_reason::no_available_host);

    r.kind = scheduler::disk_kind::hdd;
    r.region_id.reset();
    {
        pqxx::work tx(conn);
        tx.exec_params("UPDATE hosts SET state = 'online' WHERE id = $1", idle);
        tx.commit();
    }
    result = scheduler::place(conn, r, "fourth");
    ASSERT_TRUE(std::holds_alternative<scheduler::no_fit>(result));
    EXPECT_EQ(std::get<scheduler::no_fit>(result).reason, no_fit_reason::no_matching_disk);

    // Overcommit ratios come from the numeric columns exactly: 8 cores at 0.375 are 3 vCPUs.
    {
        pqxx::work tx(conn);
        tx.exec_params("UPDATE hosts SET load_cpu = 0.375 WHERE id = $1", idle);
        tx.commit();
    }
    r.kind.reset();
    EXPECT_TRUE(std::holds_alternative<scheduler::no_fit>(scheduler::place(conn, r, "fifth")));
    r.vcpus = 1;
    EXPECT_TRUE(std::holds_alternative<scheduler::reservation>(scheduler::place(conn, r, "sixth")));
}

TEST(placement, deleting_an_allocation_row_is_a_release) {
    const auto url = migrated_database();
    pqxx::connection conn(url);
    const auto host = add_host(conn, "hv1", 4, 8 * k_gib, 100 * k_gib).first;
    for (int i = 0; i < 2; ++i) {
        ASSERT_TRUE(std::holds_alternative<scheduler::reservation>(
            scheduler::place(conn, request(2), "job")));
    }
    {
        pqxx::work tx(conn);
        tx.exec_params("DELETE FROM host_allocations WHERE host_id = $1", host);
        tx.commit();
    }
    const auto t = totals_of(conn, host);
    EXPECT_EQ(t.capacity_cpu, 0);
    EXPECT_EQ(t.capacity_memory, 0);
    EXPECT_EQ(t.disk_used, 0);
    EXPECT_TRUE(
        std::holds_alternative<scheduler::reservation>(scheduler::place(conn, request(4), "job")));
}

namespace {

// host_load.load next to calculate_load() on the same host as read_candidates() sees it.
void expect_host_load_is_the_calculated_load(pqxx::connection& conn) {
    pqxx::read_transaction tx(conn);
    const auto hosts = scheduler::read_candidates(tx, std::nullopt);
    const auto rows = tx.exec("SELECT host_id, load FROM host_load ORDER BY host_id");
    ASSERT_EQ(rows.size(), hosts.size());
    for (std::size_t i = 0; i < hosts.size(); ++i) {
        EXPECT_EQ(rows[i][0].as<std::int64_t>(), hosts[i].id);
        // Exactly equal, not nearly: the short list's order must be the pure module's.
        EXPECT_EQ(rows[i][1].as<double>(), scheduler::calculate_load(hosts[i]).overall_load)
            << "host " << hosts[i].id;
    }
}

std::vector<std::int64_t> ids_of(const std::vector<scheduler::candidate_host>& hosts) {
    std::vector<std::int64_t> out;
    for (const auto& h : hosts) out.push_back(h.id);
    return out;
}

std::vector<std::int64_t> ids_of(const std::vector<scheduler::placement>& ranked,
                                 std::size_t limit) {
    std::vector<std::int64_t> out;
    for (std::size_t i = 0; i < ranked.size() && i < limit; ++i) out.push_back(ranked[i].host_id);
    return out;
}

}  // namespace

TEST(placement, short_list_is_the_head_of_the_pure_ranking) {
    const auto url = migrated_database();
    pqxx::connection conn(url);
    {
        // Fourteen hosts of every shape the load and the fit depend on: overcommit ratios that
        // round (0.29, 1.1, 1.5), several disks with one disabled, HDDs, a zero-core host, two
        // regions and a closed one, a disabled host and a down one.
        pqxx::work tx(conn);
        tx.exec("INSERT INTO regions (name) VALUES ('eu'), ('closed')");
        tx.exec("UPDATE regions SET enabled = false WHERE name = 'closed'");
        tx.exec(
            "INSERT INTO hosts (name, region_id, cpu, memory, load_cpu, load_memory, load_disk, "
            "                   enabled, state) "
            "SELECT 'hv' || g, (SELECT id FROM regions WHERE name = CASE WHEN g = 13 THEN "
            "       'closed' WHEN g % 2 = 0 THEN 'eu' ELSE 'default' END), "
            "       CASE WHEN g = 7 THEN 0 ELSE 8 + g % 5 * 8 END, (16 + g % 3 * 16) * "
            "1073741824::bigint, "
            "       (ARRAY[1.0, 0.29, 1.5, 2.0, 1.1])[1 + g % 5], (ARRAY[1.0, 1.5, 1.1])[1 + g % "
            "3], "
            "       (ARRAY[1.0, 0.5, 1.2, 2.0])[1 + g % 4], g <> 11, "
            "       CASE WHEN g = 12 THEN 'down' ELSE 'online' END "
            "  FROM generate_series(1, 14) g");
        tx.exec(
            "INSERT INTO host_disks (host_id, name, size, kind, interface, enabled) "
            "SELECT id, 'a', (200 + id % 4 * 300) * 1073741824::bigint, 'ssd', 'pcie', true "
            "  FROM hosts UNION ALL "
            "SELECT id, 'b', 1000 * 1073741824::bigint, 'hdd', 'sata', id % 3 <> 0 "
            "  FROM hosts WHERE id % 2 = 1 UNION ALL "
            "SELECT id, 'c', 300 * 1073741824::bigint, 'ssd', 'scsi', true FROM hosts WHERE id % 4 "
            "= 1");
        tx.commit();
    }
    // Earlier tenants, placed through the real path so that every trigger runs.
    for (int i = 0; i < 12; ++i) {
        auto r = request(1 + i % 3, (1 + i % 4) * k_gib, (10 + 15 * (i % 5)) * k_gib);
        if (i % 4 == 3) r.kind = scheduler::disk_kind::hdd;
        ASSERT_TRUE(std::holds_alternative<scheduler::reservation>(scheduler::place(conn, r, "t")))
            << i;
    }
    // Empty twins added last, so they stay equally loaded: the order among them is the host id.
    for (const auto* name : {"twin1", "twin2", "twin3"})
        add_host(conn, name, 8, 16 * k_gib, 300 * k_gib);
    expect_host_load_is_the_calculated_load(conn);

    const auto eu = pqxx::read_transaction(conn)
                        .exec1("SELECT id FROM regions WHERE name = 'eu'")[0]
                        .as<std::int64_t>();
    std::vector<scheduler::placement_request> requests;
    for (const int vcpus : {1, 4, 9}) {
        for (const auto kind :
             {std::optional<scheduler::disk_kind>{}, std::optional{scheduler::disk_kind::ssd},
              std::optional{scheduler::disk_kind::hdd}}) {
            auto r = request(vcpus, 8 * k_gib, 100 * k_gib);
            r.kind = kind;
            requests.push_back(r);
            r.region_id = eu;
            requests.push_back(r);
        }
    }
    auto scsi = request(1);
    scsi.interface = scheduler::disk_interface::scsi;
    requests.push_back(scsi);

    std::size_t non_trivial = 0;
    pqxx::read_transaction tx(conn);
    const auto everything = scheduler::read_candidates(tx, std::nullopt);
    for (std::size_t i = 0; i < requests.size(); ++i) {
        const auto pure = scheduler::rank_placements(everything, requests[i]);
        non_trivial += pure.size() > 3 ? 1 : 0;
        for (const int limit : {1, 3, 16}) {
            EXPECT_EQ(ids_of(scheduler::read_short_list(tx, requests[i], limit)),
                      ids_of(pure, static_cast<std::size_t>(limit)))
                << "request " << i << ", limit " << limit;
        }
    }
    EXPECT_GE(non_trivial, 6u);  // the comparison has orders to get wrong
}

TEST(placement, host_load_follows_hosts_disks_and_releases) {
    const auto url = migrated_database();
    pqxx::connection conn(url);
    const auto [a, disk_a] = add_host(conn, "a", 8, 32 * k_gib, 500 * k_gib);
    const auto b = add_host(conn, "b", 8, 32 * k_gib, 500 * k_gib).first;
    const auto placed = scheduler::place(conn, request(2, 4 * k_gib, 50 * k_gib), "t");
    ASSERT_TRUE(std::holds_alternative<scheduler::reservation>(placed));
    EXPECT_EQ(std::get<scheduler::reservation>(placed).host_id, a);  // a tie: the lowest id
    expect_host_load_is_the_calculated_load(conn);

    const auto edit = [&](const std::string& sql) {
        pqxx::work tx(conn);
        tx.exec(sql);
        tx.commit();
        expect_host_load_is_the_calculated_load(conn);
    };
    edit("UPDATE hosts SET load_cpu = 1.5, memory = 48 * 1073741824::bigint WHERE id = " +
         std::to_string(a));
    edit("INSERT INTO host_disks (host_id, name, size, kind, interface) VALUES (" +
         std::to_string(b) + ", 'hdd', 4000 * 1073741824::bigint, 'hdd', 'sata')");
    edit("UPDATE host_disks SET enabled = false WHERE host_id = " + std::to_string(b) +
         " AND name = 'hdd'");
    edit("UPDATE host_disks SET size = 100 * 1073741824::bigint WHERE id = " +
         std::to_string(disk_a));
    edit("UPDATE hosts SET state = 'down', last_seen_at = now() WHERE id = " + std::to_string(b));
    edit("DELETE FROM host_disks WHERE host_id = " + std::to_string(b) + " AND name = 'hdd'");
    EXPECT_TRUE(scheduler::release(conn, std::get<scheduler::reservation>(placed).allocation_id));
    expect_host_load_is_the_calculated_load(conn);
    edit("DELETE FROM hosts WHERE id = " + std::to_string(b));
}

TEST(placement, refusal_after_an_empty_short_list_counts_every_host) {
    const auto url = migrated_database();
    pqxx::connection conn(url);
    // Three hosts short of memory, two of them also of cpu, one short of disk too: the short list
    // is empty, and the refusal must still be what the whole fleet says.
    add_host(conn, "a", 4, 4 * k_gib, 1000 * k_gib);
    add_host(conn, "b", 1, 2 * k_gib, 1000 * k_gib);
    add_host(conn, "c", 1, 8 * k_gib, 10 * k_gib);
    add_host(conn, "d", 16, 2 * k_gib, 1000 * k_gib);
    const auto r = request(2, 6 * k_gib, 20 * k_gib);

    pqxx::read_transaction tx(conn);
    EXPECT_TRUE(scheduler::read_short_list(tx, r, 16).empty());
    const auto pure = scheduler::choose_placement(scheduler::read_candidates(tx, std::nullopt), r);
    tx.commit();
    ASSERT_TRUE(std::holds_alternative<scheduler::no_fit>(pure));

    const auto result = scheduler::place(conn, r, "t");
    ASSERT_TRUE(std::holds_alternative<scheduler::no_fit>(result));
    const auto& why = std::get<scheduler::no_fit>(result);
    EXPECT_EQ(why.reason, no_fit_reason::insufficient_memory);
    EXPECT_EQ(why.hosts_checked, 4);
    EXPECT_EQ(why.short_of_memory, 3);
    EXPECT_EQ(why.short_of_cpu, 2);
    EXPECT_EQ(why.short_of_disk, 1);
    EXPECT_EQ(scheduler::describe(why, r),
              scheduler::describe(std::get<scheduler::no_fit>(pure), r));
    EXPECT_EQ(why.short_of_memory, std::get<scheduler::no_fit>(pure).short_of_memory);
}
