// Placement throughput over a large fleet: the pure choice alone (scheduler/placement), then the
// transactional path (scheduler/reservations: read a short list of the least-loaded hosts that
// fit, choose, lock the host's capacity row, check again, insert) against a throwaway PostgreSQL,
// sequentially and from several threads, and finally a check that no host ended up overcommitted.
// Usage: bench_placement [HOSTS] [PLACEMENTS] [THREADS...]   (defaults: 10000 2000 4 8)
#include "coordinator/scheduler/placement.hpp"
#include "coordinator/scheduler/reservations.hpp"
#include "coordinator/store/migrations.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <pqxx/pqxx>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

using namespace vpsfleet;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr std::int64_t k_gib = 1024LL * 1024 * 1024;
constexpr int k_regions = 10;

double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

// A mixed request stream: 1-4 vCPUs, 1-8 GiB, 20-80 GiB, every fourth one on HDD.
scheduler::placement_request request_for(int i, std::optional<std::int64_t> region) {
    scheduler::placement_request r;
    r.region_id = region;
    r.vcpus = 1 + i % 4;
    r.memory = (1 + i % 8) * k_gib;
    r.disk = (20 + 20 * (i % 4)) * k_gib;
    r.kind = i % 4 == 3 ? scheduler::disk_kind::hdd : scheduler::disk_kind::ssd;
    return r;
}

// The same fleet the database holds, built in memory for the pure run.
std::vector<scheduler::candidate_host> fleet_in_memory(int hosts) {
    std::vector<scheduler::candidate_host> out;
    out.reserve(hosts);
    for (int id = 1; id <= hosts; ++id) {
        scheduler::candidate_host h;
        h.id = id;
        h.region_id = 1 + id % k_regions;
        h.enabled = id % 100 != 0;
        h.state = id % 97 == 0 ? scheduler::link_state::down : scheduler::link_state::online;
        h.cpu = 32;
        h.memory = 256 * k_gib;
        h.load = {2000, 1000, 1000};
        h.used_cpu = id * 7 % 48;
        h.used_memory = (id * 13 % 200) * k_gib;
        h.disks.push_back({2 * id, scheduler::disk_kind::ssd, scheduler::disk_interface::pcie, true,
                           2000 * k_gib, (id * 17 % 1500) * k_gib});
        h.disks.push_back({2 * id + 1, scheduler::disk_kind::hdd, scheduler::disk_interface::sata,
                           true, 8000 * k_gib, 0});
        out.push_back(std::move(h));
    }
    return out;
}

double run_pure(std::vector<scheduler::candidate_host> hosts, int placements) {
    int placed = 0;
    const auto start = clock_type::now();
    for (int i = 0; i < placements; ++i) {
        const auto r = request_for(i, std::nullopt);
        const auto result = scheduler::choose_placement(hosts, r);
        const auto* p = std::get_if<scheduler::placement>(&result);
        if (!p) continue;
        // Take the reservation in memory, so the next choice sees a changed fleet.
        auto& h = hosts[p->host_id - 1];
        h.used_cpu += r.vcpus;
        h.used_memory += r.memory;
        for (auto& d : h.disks)
            if (d.id == p->disk_id) d.used += r.disk;
        ++placed;
    }
    const double rate = placements / seconds_since(start);
    if (placed != placements) std::fprintf(stderr, "pure: only %d placed\n", placed);
    return rate;
}

void load_fleet(const std::string& url, int hosts) {
    pqxx::connection conn(url);
    pqxx::work tx(conn);
    tx.exec_params("INSERT INTO regions (name) SELECT 'r' || g FROM generate_series(1, $1) g",
                   k_regions);
    // Same shapes as fleet_in_memory; region 'rN' has id N + 1 (id 1 is 'default').
    tx.exec_params(
        "INSERT INTO hosts (name, region_id, cpu, memory, load_cpu, enabled, state) "
        "SELECT 'hv' || g, 2 + g % $2, 32, 256 * $3::bigint, 2.0, g % 100 <> 0, "
        "       CASE WHEN g % 97 = 0 THEN 'down' ELSE 'online' END "
        "  FROM generate_series(1, $1) g",
        hosts, k_regions, k_gib);
    tx.exec_params(
        "INSERT INTO host_disks (host_id, name, size, kind, interface) "
        "SELECT id, 'ssd', 2000 * $1::bigint, 'ssd', 'pcie' FROM hosts UNION ALL "
        "SELECT id, 'hdd', 8000 * $1::bigint, 'hdd', 'sata' FROM hosts",
        k_gib);
    // What earlier tenants hold: one allocation per host with the in-memory fleet's totals.
    tx.exec_params(
        "INSERT INTO host_allocations (host_id, disk_id, cpu, memory, disk, owner) "
        "SELECT h.id, d.id, h.id * 7 % 48, (h.id * 13 % 200) * $1::bigint, "
        "       (h.id * 17 % 1500) * $1::bigint, 'earlier' "
        "  FROM hosts h JOIN host_disks d ON d.host_id = h.id AND d.kind = 'ssd' "
        " WHERE h.id * 7 % 48 > 0 AND h.id * 13 % 200 > 0 AND h.id * 17 % 1500 > 0",
        k_gib);
    tx.commit();
    pqxx::nontransaction(conn).exec("VACUUM ANALYZE");
}

struct transactional_run {
    double rate = 0;  // placements per second
    double p50_ms = 0;
    double p99_ms = 0;
};

double percentile(std::vector<double> values, double p) {
    if (values.empty()) return 0;
    const auto at = static_cast<std::size_t>(p * static_cast<double>(values.size() - 1));
    std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(at),
                     values.end());
    return values[at];
}

transactional_run run_transactional(const std::string& url, int placements, int threads,
                                    std::optional<std::int64_t> region, std::atomic<int>& refused) {
    std::vector<std::thread> pool;
    std::atomic<int> next{0};
    std::vector<std::unique_ptr<pqxx::connection>> conns;
    for (int t = 0; t < threads; ++t) conns.push_back(std::make_unique<pqxx::connection>(url));
    std::vector<std::vector<double>> latencies(threads);
    const auto start = clock_type::now();
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            for (int i = next++; i < placements; i = next++) {
                const auto one = clock_type::now();
                const auto result = scheduler::place(*conns[t], request_for(i, region), "bench");
                latencies[t].push_back(seconds_since(one) * 1000);
                if (!std::holds_alternative<scheduler::reservation>(result)) ++refused;
            }
        });
    }
    for (auto& t : pool) t.join();
    const double rate = placements / seconds_since(start);
    std::vector<double> all;
    for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
    return {rate, percentile(all, 0.5), percentile(all, 0.99)};
}

void print_transactional(const char* what, const transactional_run& r, int hosts) {
    std::printf("placement transactional %s: %.0f/s, p50 %.2f ms, p99 %.2f ms (%d hosts)\n", what,
                r.rate, r.p50_ms, r.p99_ms, hosts);
}

double time_candidate_read(const std::string& url, std::optional<std::int64_t> region) {
    pqxx::connection conn(url);
    constexpr int k_reads = 20;
    const auto start = clock_type::now();
    for (int i = 0; i < k_reads; ++i) {
        pqxx::read_transaction tx(conn);
        scheduler::read_candidates(tx, region);
    }
    return seconds_since(start) / k_reads * 1000;
}

// What a placement reads instead of every candidate, for the bench's request stream.
double time_short_list_read(const std::string& url, std::optional<std::int64_t> region) {
    pqxx::connection conn(url);
    constexpr int k_reads = 200;
    const auto start = clock_type::now();
    for (int i = 0; i < k_reads; ++i) {
        pqxx::read_transaction tx(conn);
        scheduler::read_short_list(tx, request_for(i, region), 16);
    }
    return seconds_since(start) / k_reads * 1000;
}

}  // namespace

int main(int argc, char** argv) {
    const int hosts = argc > 1 ? std::atoi(argv[1]) : 10000;
    const int placements = argc > 2 ? std::atoi(argv[2]) : 2000;
    std::vector<int> thread_counts;
    for (int i = 3; i < argc; ++i) thread_counts.push_back(std::atoi(argv[i]));
    if (thread_counts.empty()) thread_counts = {4, 8};

    std::printf("placement pure: %.0f/s (%d hosts)\n", run_pure(fleet_in_memory(hosts), placements),
                hosts);

    testing::throwaway_postgres pg;
    const auto url = pg.create_database("placement_bench");
    {
        pqxx::connection conn(url);
        store::apply_migrations(conn, store::embedded_migrations());
    }
    const auto load_start = clock_type::now();
    load_fleet(url, hosts);
    std::printf("fleet loaded: %d hosts, %d disks in %.1f s\n", hosts, 2 * hosts,
                seconds_since(load_start));
    std::printf("candidate read: %.1f ms (%d hosts), %.1f ms (one region)\n",
                time_candidate_read(url, std::nullopt), hosts, time_candidate_read(url, 2));
    std::printf("short-list read: %.2f ms (%d hosts), %.2f ms (one region)\n",
                time_short_list_read(url, std::nullopt), hosts, time_short_list_read(url, 2));

    std::atomic<int> refused{0};
    print_transactional("sequential",
                        run_transactional(url, placements / 4, 1, std::nullopt, refused), hosts);
    print_transactional("sequential, one region",
                        run_transactional(url, placements / 4, 1, 2, refused), hosts / k_regions);
    for (const int n : thread_counts) {
        const std::string what = std::to_string(n) + " threads";
        print_transactional(
            what.c_str(), run_transactional(url, placements / 2, n, std::nullopt, refused), hosts);
    }

    pqxx::connection conn(url);
    const auto row = pqxx::read_transaction(conn).exec1(
        "SELECT count(*) FILTER (WHERE c.used_cpu > floor(h.cpu * h.load_cpu) "
        "                          OR c.used_memory > floor(h.memory * h.load_memory)), "
        "       (SELECT count(*) FROM host_allocations WHERE owner = 'bench') "
        "  FROM hosts h JOIN host_capacity c ON c.host_id = h.id");
    std::printf("placed %lld, refused %d, overcommitted hosts: %lld\n", row[1].as<long long>(),
                refused.load(), row[0].as<long long>());
    return row[0].as<long long>() == 0 ? 0 : 1;
}
