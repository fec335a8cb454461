// Job throughput: enqueues no-op jobs into a throwaway PostgreSQL and drains them with 1, 2, 4
// and 8 workers, next to a bare FOR UPDATE SKIP LOCKED queue (claim and finish, no lease, steps,
// events or NOTIFY) drained by as many threads on the same cluster, so the ratio shows what
// durability and watchability cost. Usage: bench_jobs [JOBS] [WORKERS...]
#include "coordinator/jobs/job_runner.hpp"
#include "coordinator/jobs/job_store.hpp"
#include "coordinator/store/migrations.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <pqxx/pqxx>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

using namespace vpsfleet;
using clock_type = std::chrono::steady_clock;

namespace {

double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

std::string fresh(testing::throwaway_postgres& pg, const std::string& name) {
    const auto url = pg.create_database(name);
    pqxx::connection conn(url);
    store::apply_migrations(conn, store::embedded_migrations());
    return url;
}

double enqueue_jobs(const std::string& url, int count) {
    pqxx::connection conn(url);
    const auto start = clock_type::now();
    pqxx::work tx(conn);
    for (int i = 0; i < count; ++i) jobs::enqueue(tx, jobs::new_job{.kind = "noop"});
    tx.commit();
    return count / seconds_since(start);
}

double run_jobs(const std::string& url, int count, std::size_t workers) {
    jobs::runner_options options;
    options.conninfo = url;
    options.workers = workers;
    options.poll_interval = std::chrono::milliseconds(10);
    jobs::job_runner runner(options);
    runner.add_handler("noop",
                       jobs::job_handler{{jobs::job_step{
                           "noop", [](jobs::step_context&) { return nlohmann::json(); }, {}}}});
    const auto start = clock_type::now();
    runner.start();
    while (runner.stats().completed < static_cast<std::uint64_t>(count))
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    const double rate = count / seconds_since(start);
    runner.stop();
    return rate;
}

double run_bare_queue(const std::string& url, int count, std::size_t threads) {
    {
        pqxx::connection conn(url);
        pqxx::work tx(conn);
        tx.exec(
            "CREATE TABLE bare_jobs (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
            "state text NOT NULL DEFAULT 'pending')");
        tx.exec("CREATE INDEX bare_jobs_pending ON bare_jobs (id) WHERE state = 'pending'");
        tx.exec_params("INSERT INTO bare_jobs (state) SELECT 'pending' FROM generate_series(1, $1)",
                       count);
        tx.commit();
    }
    std::atomic<int> done{0};
    std::vector<std::thread> pool;
    const auto start = clock_type::now();
    for (std::size_t t = 0; t < threads; ++t) {
        pool.emplace_back([&] {
            pqxx::connection conn(url);
            for (;;) {
                pqxx::work claim(conn);
                const auto rows = claim.exec(
                    "UPDATE bare_jobs SET state = 'running' WHERE id = (SELECT id FROM bare_jobs "
                    "WHERE state = 'pending' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) "
                    "RETURNING id");
                claim.commit();
                if (rows.empty()) return;
                pqxx::work finish(conn);
                finish.exec_params("UPDATE bare_jobs SET state = 'done' WHERE id = $1",
                                   rows[0][0].as<long long>());
                finish.commit();
                ++done;
            }
        });
    }
    for (auto& t : pool) t.join();
    return done / seconds_since(start);
}

}  // namespace

int main(int argc, char** argv) {
    const int count = argc > 1 ? std::stoi(argv[1]) : 20'000;
    std::vector<std::size_t> worker_counts;
    for (int i = 2; i < argc; ++i) worker_counts.push_back(std::stoul(argv[i]));
    if (worker_counts.empty()) worker_counts = {1, 2, 4, 8};

    testing::throwaway_postgres pg;
    std::printf("jobs bench: %d no-op jobs per run, %u CPUs, throwaway PostgreSQL (fsync off)\n",
                count, std::thread::hardware_concurrency());
    int round = 0;
    for (auto workers : worker_counts) {
        const auto url = fresh(pg, "jobs_" + std::to_string(++round));
        const double enqueued = enqueue_jobs(url, count);
        const double rate = run_jobs(url, count, workers);
        const double bare = run_bare_queue(url, count, workers);
        std::printf(
            "jobs throughput workers=%zu: %.0f jobs/s (bare SKIP LOCKED queue: %.0f/s, ratio "
            "%.2f; enqueue in one transaction: %.0f jobs/s)\n",
            workers, rate, bare, rate / bare, enqueued);
        std::fflush(stdout);
    }
}
