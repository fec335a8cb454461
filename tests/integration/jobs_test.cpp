// Durable jobs against a real PostgreSQL: claiming, leases, a worker process killed mid-job,
// compensation, cancellation, attempts, watching, and fleet commands run from a step.
#include "coordinator/fleet/commands.hpp"
#include "coordinator/jobs/fleet_step.hpp"
#include "coordinator/jobs/job_runner.hpp"
#include "coordinator/jobs/job_store.hpp"
#include "coordinator/jobs/job_watch.hpp"
#include "tests/integration/jobs_test_handlers.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <pqxx/pqxx>

#include <signal.h>

#include <atomic>
#include <functional>
#include <thread>

using namespace vpsfleet;
using namespace vpsfleet::jobs;
using namespace std::chrono_literals;
using json = nlohmann::json;
namespace vt = vpsfleet::testing;

namespace {

struct jobs_database {
    std::string url = vt::fresh_database();
    jobs_database() { vt::prepare_jobs_database(url); }

    enqueued_job add(const std::string& kind, const json& args = json::object(),
                     int max_attempts = 3) {
        pqxx::connection conn(url);
        pqxx::work tx(conn);
        new_job j;
        j.kind = kind;
        j.args = args;
        j.max_attempts = max_attempts;
        auto out = enqueue(tx, j);
        tx.commit();
        return *out;
    }
    job get(std::int64_t id) {
        pqxx::connection conn(url);
        return *get_job(conn, id);
    }
    long long count(const std::string& sql) {
        pqxx::connection conn(url);
        return pqxx::read_transaction(conn).exec(sql)[0][0].as<long long>();
    }
    std::vector<std::string> effects(std::int64_t job_id) {
        pqxx::connection conn(url);
        std::vector<std::string> out;
        for (const auto& r : pqxx::read_transaction(conn).exec_params(
                 "SELECT what FROM effects WHERE job_id = $1 ORDER BY n", job_id))
            out.push_back(r[0].as<std::string>());
        return out;
    }
    ::testing::AssertionResult wait_for_state(std::int64_t id, const std::string& state,
                                              std::chrono::milliseconds timeout = 10s) {
        const auto until = std::chrono::steady_clock::now() + timeout;
        std::string seen;
        while (std::chrono::steady_clock::now() < until) {
            seen = get(id).state;
            if (seen == state) return ::testing::AssertionSuccess();
            std::this_thread::sleep_for(20ms);
        }
        return ::testing::AssertionFailure() << "job " << id << " is " << seen << ", not " << state;
    }
    ::testing::AssertionResult wait_until(const std::function<bool()>& cond,
                                          std::chrono::milliseconds timeout = 10s) {
        const auto until = std::chrono::steady_clock::now() + timeout;
        while (std::chrono::steady_clock::now() < until) {
            if (cond()) return ::testing::AssertionSuccess();
            std::this_thread::sleep_for(20ms);
        }
        return ::testing::AssertionFailure() << "condition not met in time";
    }
};

runner_options fast_options(const std::string& url, std::size_t workers = 2) {
    runner_options o;
    o.conninfo = url;
    o.workers = workers;
    o.lease_time = 1s;
    o.poll_interval = 50ms;
    return o;
}

std::vector<std::string> event_types(const std::vector<job_event>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) out.push_back(e.type);
    return out;
}

job_step effect_step(const std::string& name, std::vector<std::string>* order = nullptr) {
    return job_step{name,
                    [name](step_context& ctx) {
                        vt::record_effect(ctx, name);
                        ctx.progress(name + " half way", 0.5);
                        return json{{"did", name}};
                    },
                    [name, order](step_context& ctx) {
                        vt::record_effect(ctx, "undo " + name);
                        if (order) order->push_back(ctx.output()["did"].get<std::string>());
                    }};
}

}  // namespace

TEST(jobs, a_job_runs_once_and_completes_with_its_progress_visible) {
    jobs_database db;
    job_runner runner(fast_options(db.url));
    runner.add_handler(
        "demo", job_handler{{effect_step("allocate"), effect_step("define"), effect_step("boot")}});
    runner.start();
    const auto j = db.add("demo", {{"name", "web-01"}});
    EXPECT_TRUE(j.uid.starts_with("job_"));
    ASSERT_TRUE(db.wait_for_state(j.id, "completed"));

    EXPECT_EQ(db.effects(j.id), (std::vector<std::string>{"allocate", "define", "boot"}));
    const auto done = db.get(j.id);
    EXPECT_EQ(done.attempts, 1);
    EXPECT_EQ(done.result, (json{{"did", "boot"}}));
    ASSERT_TRUE(done.progress.has_value());
    EXPECT_EQ(done.progress->step, 3);
    EXPECT_EQ(done.progress->total, 3);
    EXPECT_EQ(done.progress->percent, 100);
    EXPECT_TRUE(done.started_at && done.finished_at);
    EXPECT_TRUE(done.error.is_null());

    pqxx::connection conn(db.url);
    const auto events = events_after(conn, j.id, 0);
    EXPECT_EQ(event_types(events),
              (std::vector<std::string>{"queued", "started", "progress", "progress", "progress",
                                        "progress", "progress", "progress", "completed"}));
    EXPECT_EQ(events[3].data["message"], "allocate half way");
    EXPECT_EQ(events[3].data["percent"], 16);
    EXPECT_EQ(runner.stats().completed, 1u);
}

TEST(jobs, two_runners_never_run_the_same_job) {
    jobs_database db;
    constexpr int n = 300;
    {
        pqxx::connection conn(db.url);
        pqxx::work tx(conn);
        for (int i = 0; i < n; ++i) enqueue(tx, new_job{.kind = "one"});
        tx.commit();
    }
    const job_handler one{{job_step{"only",
                                    [](step_context& ctx) {
                                        vt::record_effect(ctx, "only");
                                        return json();
                                    },
                                    {}}}};
    job_runner a(fast_options(db.url, 4));
    job_runner b(fast_options(db.url, 4));
    a.add_handler("one", one);
    b.add_handler("one", one);
    a.start();
    b.start();
    EXPECT_TRUE(db.wait_until(
        [&] { return db.count("SELECT count(*) FROM jobs WHERE state <> 'completed'") == 0; },
        30s));
    a.stop();
    b.stop();
    EXPECT_EQ(db.count("SELECT count(*) FROM effects"), n);
    EXPECT_EQ(db.count("SELECT count(DISTINCT job_id) FROM effects"), n);
    EXPECT_EQ(db.count("SELECT max(attempts) FROM jobs"), 1);
    EXPECT_EQ(a.stats().claimed + b.stats().claimed, static_cast<std::uint64_t>(n));
    // Both took part: the queue was shared, not drained by whoever started first.
    EXPECT_GT(a.stats().claimed, 0u);
    EXPECT_GT(b.stats().claimed, 0u);
}

TEST(jobs, a_job_whose_worker_was_killed_is_taken_again_and_takes_effect_once) {
    jobs_database db;
    const auto j = db.add("two_step");
    vt::child_process doomed({VPSFLEET_JOBS_TEST_WORKER, db.url, "600"});
    ASSERT_TRUE(db.wait_until([&] {
        const auto now = db.get(j.id);
        return now.progress && now.progress->message == "hanging";
    }));
    doomed.signal(SIGKILL);
    ASSERT_TRUE(doomed.wait_exit(5s).has_value());
    const auto killed_at = std::chrono::steady_clock::now();
    EXPECT_EQ(db.get(j.id).state, "running");  // as the dead worker left it

    job_runner survivor(fast_options(db.url, 1));
    survivor.add_handler("two_step", vt::two_step_handler(false));
    survivor.start();
    ASSERT_TRUE(db.wait_for_state(j.id, "completed"));
    // Not before the dead worker's lease ran out.
    EXPECT_GE(std::chrono::steady_clock::now() - killed_at, 300ms);

    // The first step was recorded done and not run again; the second step's effect from the
    // killed worker was never committed, so each happened exactly once.
    EXPECT_EQ(db.effects(j.id), (std::vector<std::string>{"first", "second"}));
    const auto done = db.get(j.id);
    EXPECT_EQ(done.attempts, 2);
    EXPECT_EQ(done.result, (json{{"second", true}}));
    pqxx::connection conn(db.url);
    int started = 0;
    std::vector<std::string> workers;
    for (const auto& e : events_after(conn, j.id, 0)) {
        if (e.type == "started") {
            ++started;
            workers.push_back(e.worker);
        }
    }
    EXPECT_EQ(started, 2);
    ASSERT_EQ(workers.size(), 2u);
    EXPECT_EQ(workers[0], "doomed/w1");
    EXPECT_NE(workers[1], "doomed/w1");
}

TEST(jobs, a_failing_step_compensates_the_steps_done_newest_first) {
    jobs_database db;
    std::vector<std::string> order;
    job_handler h{{effect_step("reserve_ip", &order), effect_step("define_vm", &order),
                   job_step{"start_vm",
                            [](step_context& ctx) -> json {
                                vt::record_effect(ctx, "start_vm");  // rolled back
                                throw step_failed("no_capacity", "host hv-1 is full");
                            },
                            [](step_context& ctx) { vt::record_effect(ctx, "undo start"); }}}};
    job_runner runner(fast_options(db.url, 1));
    runner.add_handler("create", h);
    runner.start();
    const auto j = db.add("create");
    ASSERT_TRUE(db.wait_for_state(j.id, "failed"));
    EXPECT_EQ(db.effects(j.id), (std::vector<std::string>{"reserve_ip", "define_vm",
                                                          "undo define_vm", "undo reserve_ip"}));
    EXPECT_EQ(order, (std::vector<std::string>{"define_vm", "reserve_ip"}));
    const auto failed = db.get(j.id);
    EXPECT_EQ(failed.error["code"], "no_capacity");
    EXPECT_EQ(failed.error["message"], "host hv-1 is full");
    EXPECT_EQ(failed.attempts, 1);
    EXPECT_EQ(db.count("SELECT count(*) FROM job_steps WHERE state = 'compensated' AND job_id = " +
                       std::to_string(j.id)),
              2);
    pqxx::connection conn(db.url);
    const auto types = event_types(events_after(conn, j.id, 0));
    EXPECT_NE(std::find(types.begin(), types.end(), "compensating"), types.end());
    EXPECT_EQ(types.back(), "failed");
}

TEST(jobs, a_pending_job_is_cancelled_at_once_and_never_runs) {
    jobs_database db;
    const auto j = db.add("demo");
    pqxx::connection conn(db.url);
    EXPECT_EQ(request_cancel(conn, j.id, "changed my mind"), cancel_outcome::cancelled);
    EXPECT_EQ(request_cancel(conn, j.id, "again"), cancel_outcome::already_finished);
    EXPECT_EQ(request_cancel(conn, 999999, "nothing"), cancel_outcome::not_found);
    const auto cancelled = db.get(j.id);
    EXPECT_EQ(cancelled.state, "cancelled");
    EXPECT_EQ(cancelled.error["code"], "cancelled");
    EXPECT_TRUE(cancelled.finished_at.has_value());

    job_runner runner(fast_options(db.url, 1));
    runner.add_handler("demo", job_handler{{effect_step("a")}});
    runner.start();
    std::this_thread::sleep_for(300ms);
    runner.stop();
    EXPECT_TRUE(db.effects(j.id).empty());
    EXPECT_EQ(runner.stats().claimed, 0u);
}

TEST(jobs, a_running_job_stops_at_the_next_step_and_undoes_what_it_did) {
    jobs_database db;
    std::atomic<bool> in_second{false};
    job_handler h{{effect_step("first"),
                   job_step{"second",
                            [&](step_context& ctx) {
                                vt::record_effect(ctx, "second");
                                in_second = true;
                                // Finishes its work even though cancellation arrives meanwhile.
                                for (int i = 0; i < 500 && !ctx.cancel_requested(); ++i)
                                    std::this_thread::sleep_for(10ms);
                                return json{{"did", "second"}};
                            },
                            [](step_context& ctx) { vt::record_effect(ctx, "undo second"); }},
                   effect_step("third")}};
    job_runner runner(fast_options(db.url, 1));
    runner.add_handler("slow", h);
    runner.start();
    const auto j = db.add("slow");
    ASSERT_TRUE(db.wait_until([&] { return in_second.load(); }));
    pqxx::connection conn(db.url);
    // "requested": the job was running. Its worker may see the request and finish undoing its
    // steps before this test looks again, so its state is not checked in between.
    EXPECT_EQ(request_cancel(conn, j.id, "customer cancelled"), cancel_outcome::requested);
    ASSERT_TRUE(db.wait_for_state(j.id, "cancelled", 5s));
    EXPECT_EQ(db.effects(j.id),
              (std::vector<std::string>{"first", "second", "undo second", "undo first"}));
    const auto cancelled = db.get(j.id);
    EXPECT_EQ(cancelled.error["code"], "cancelled");
    EXPECT_EQ(cancelled.error["message"], "customer cancelled");
    const auto types = event_types(events_after(conn, j.id, 0));
    EXPECT_NE(std::find(types.begin(), types.end(), "cancel_requested"), types.end());
    EXPECT_EQ(types.back(), "cancelled");
}

TEST(jobs, a_step_that_keeps_asking_for_a_retry_fails_after_max_attempts) {
    jobs_database db;
    job_handler h{{job_step{
        "flaky", [](step_context&) -> json { throw retry_later("host unreachable", 20ms); }, {}}}};
    job_runner runner(fast_options(db.url, 1));
    runner.add_handler("flaky", h);
    runner.start();
    const auto j = db.add("flaky", json::object(), 3);
    ASSERT_TRUE(db.wait_for_state(j.id, "failed"));
    const auto failed = db.get(j.id);
    EXPECT_EQ(failed.attempts, 3);
    EXPECT_EQ(failed.error["code"], "attempts_exhausted");
    EXPECT_EQ(runner.stats().retried, 2u);
}

TEST(jobs, a_job_whose_workers_keep_dying_fails_after_max_attempts) {
    jobs_database db;
    const auto j = db.add("doomed", json::object(), 2);
    pqxx::connection conn(db.url);
    const std::vector<std::string> kinds{"doomed"};
    // Two workers take it in turn and die (they never finish nor extend their lease).
    for (int attempt = 1; attempt <= 2; ++attempt) {
        auto claimed = claim_job(conn, "w" + std::to_string(attempt), 50ms, kinds);
        ASSERT_TRUE(claimed.has_value());
        EXPECT_EQ(claimed->lease.attempt, attempt);
        EXPECT_FALSE(claim_job(conn, "other", 50ms, kinds).has_value());  // leased
        std::this_thread::sleep_for(80ms);
    }
    // The first worker wakes up: its lease is gone, nothing it writes counts.
    EXPECT_FALSE(complete_job(conn, job_lease{j.id, 1}, json()).held);
    EXPECT_FALSE(claim_job(conn, "w3", 50ms, kinds).has_value());
    const auto failed = db.get(j.id);
    EXPECT_EQ(failed.state, "failed");
    EXPECT_EQ(failed.error["code"], "worker_lost");
    EXPECT_EQ(failed.attempts, 2);
}

TEST(jobs, stopping_the_runner_hands_the_job_back_without_using_an_attempt) {
    jobs_database db;
    std::atomic<bool> started{false};
    job_handler patient{{job_step{"wait",
                                  [&](step_context& ctx) {
                                      started = true;
                                      for (;;) {  // interrupted by progress() once stopping
                                          ctx.progress("waiting");
                                          std::this_thread::sleep_for(10ms);
                                      }
                                      return json();
                                  },
                                  {}}}};
    const auto j = db.add("patient");
    {
        job_runner runner(fast_options(db.url, 1));
        runner.add_handler("patient", patient);
        runner.start();
        ASSERT_TRUE(db.wait_until([&] { return started.load(); }));
        runner.stop();
        EXPECT_EQ(runner.stats().handed_back, 1u);
    }
    const auto back = db.get(j.id);
    EXPECT_EQ(back.state, "pending");
    EXPECT_EQ(back.attempts, 0);
}

TEST(jobs, an_exclusive_job_refuses_a_second_one_on_the_same_target) {
    jobs_database db;
    pqxx::connection conn(db.url);
    new_job j{.kind = "instance.resize", .target = "ins_abc", .exclusive = true};
    {
        pqxx::work tx(conn);
        EXPECT_TRUE(enqueue(tx, j).has_value());
        // The caller's transaction stays usable after a refusal.
        EXPECT_FALSE(enqueue(tx, j).has_value());
        tx.exec("SELECT 1");
        tx.commit();
    }
    pqxx::work tx(conn);
    j.target = "ins_other";
    EXPECT_TRUE(enqueue(tx, j).has_value());
}

TEST(jobs, a_watcher_sees_every_event_in_order_even_those_before_it_came) {
    jobs_database db;
    job_watch watch(db.url);
    watch.start();
    job_runner runner(fast_options(db.url, 1));
    runner.add_handler("demo", job_handler{{effect_step("a"), effect_step("b")}});
    const auto j = db.add("demo");

    std::mutex mutex;
    std::vector<job_event> seen;
    auto sub = watch.follow(j.id, 0, [&](const std::vector<job_event>& batch) {
        std::lock_guard lock(mutex);
        seen.insert(seen.end(), batch.begin(), batch.end());
    });
    runner.start();
    ASSERT_TRUE(db.wait_until([&] {
        std::lock_guard lock(mutex);
        return !seen.empty() && is_final_event(seen.back().type);
    }));
    {
        std::lock_guard lock(mutex);
        EXPECT_EQ(event_types(seen),
                  (std::vector<std::string>{"queued", "started", "progress", "progress", "progress",
                                            "progress", "completed"}));
        for (std::size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i].seq, std::int64_t(i + 1));
        int percent = -1;
        for (const auto& e : seen) {
            if (e.type != "progress") continue;
            EXPECT_GE(e.data["percent"].get<int>(), percent);
            percent = e.data["percent"];
        }
    }
    // Someone arriving late, or long-polling from a known point, gets the rest at once.
    const auto late = wait_for_events(watch, j.id, 5, 2s);
    EXPECT_EQ(event_types(late), (std::vector<std::string>{"progress", "completed"}));

    // A coroutine long-polling for what comes after the last event waits, then times out.
    boost::asio::io_context io;
    std::vector<job_event> polled{job_event{}};
    auto poll = [&]() -> boost::asio::awaitable<void> {
        polled = co_await next_events(watch, j.id, 7, 200ms);
    };
    const auto started = std::chrono::steady_clock::now();
    boost::asio::co_spawn(io, poll, boost::asio::detached);
    io.run();
    EXPECT_TRUE(polled.empty());
    EXPECT_GE(std::chrono::steady_clock::now() - started, 190ms);
}

TEST(jobs, a_global_watcher_sees_jobs_it_did_not_know_about) {
    jobs_database db;
    job_watch watch(db.url);
    watch.start();
    std::mutex mutex;
    std::vector<job_event> seen;
    auto sub = watch.follow_all([&](const std::vector<job_event>& batch) {
        std::lock_guard lock(mutex);
        seen.insert(seen.end(), batch.begin(), batch.end());
    });
    ASSERT_TRUE(db.wait_until([&] { return watch.listening(); }));
    const auto j = db.add("demo");
    pqxx::connection conn(db.url);
    request_cancel(conn, j.id, "not today");
    ASSERT_TRUE(db.wait_until([&] {
        std::lock_guard lock(mutex);
        return !seen.empty() && seen.back().type == "cancelled";
    }));
    std::lock_guard lock(mutex);
    EXPECT_EQ(seen.front().type, "queued") << "a job created while watching is seen whole";
    EXPECT_EQ(seen.back().job_id, j.id);
    EXPECT_EQ(seen.back().data["reason"], "not today");
}

TEST(jobs, a_coroutine_long_polling_a_job_wakes_when_it_progresses) {
    jobs_database db;
    job_watch watch(db.url);
    watch.start();
    const auto j = db.add("demo");
    boost::asio::io_context io;
    std::vector<job_event> polled;
    auto poll = [&]() -> boost::asio::awaitable<void> {
        polled = co_await next_events(watch, j.id, 1, 10s);
    };
    boost::asio::co_spawn(io, poll, boost::asio::detached);
    std::thread loop([&] { io.run(); });
    std::this_thread::sleep_for(100ms);
    const auto cancelled_at = std::chrono::steady_clock::now();
    pqxx::connection conn(db.url);
    request_cancel(conn, j.id, "no longer needed");
    loop.join();
    EXPECT_LT(std::chrono::steady_clock::now() - cancelled_at, 2s);
    ASSERT_FALSE(polled.empty());
    EXPECT_EQ(polled[0].type, "cancelled");
    EXPECT_EQ(polled[0].data["reason"], "no longer needed");
}

// ---- fleet commands from a step, against the commands table --------------------------------

namespace {

std::int64_t add_host(const std::string& url, const std::string& name) {
    pqxx::connection conn(url);
    pqxx::work tx(conn);
    const auto id = tx.exec_params(
                          "INSERT INTO hosts (name, region_id) SELECT $1, id FROM regions "
                          "WHERE name = 'default' RETURNING id",
                          name)[0][0]
                        .as<std::int64_t>();
    tx.commit();
    return id;
}

// Plays the agent's side: answers the first open command for the host, from another connection.
struct fake_agent_answer {
    std::string url;
    std::int64_t host_id;
    bool ok;
    std::string command_id;

    bool operator()() {
        pqxx::connection conn(url);
        const auto rows = pqxx::read_transaction(conn).exec_params(
            "SELECT id::text FROM commands WHERE host_id = $1 AND state = 'pending'", host_id);
        if (rows.empty()) return false;
        command_id = rows[0][0].as<std::string>();
        protocol::command_result r;
        r.command_id = command_id;
        r.ok = ok;
        if (ok) {
            r.result = json{{"domain", "vm-1"}};
        } else {
            r.error = protocol::command_error{"hypervisor_error", "domain is not running"};
        }
        return fleet::record_result(conn, host_id, r).has_value();
    }
};

job_handler fleet_handler(std::int64_t host_id, std::atomic<int>* runs = nullptr) {
    return job_handler{{job_step{
        "stop_vm",
        [host_id, runs](step_context& ctx) {
            if (runs) ++*runs;
            return run_fleet_command(ctx, host_id, "domain.stop", json{{"domain", "vm-1"}}, 10s);
        },
        {}}}};
}

}  // namespace

TEST(jobs, a_step_runs_a_fleet_command_and_gets_its_result) {
    jobs_database db;
    const auto host = add_host(db.url, "hv-1");
    job_runner runner(fast_options(db.url, 1));
    runner.add_handler("vm.stop", fleet_handler(host));
    runner.start();
    const auto j = db.add("vm.stop");
    fake_agent_answer agent{db.url, host, true, {}};
    ASSERT_TRUE(db.wait_until(agent));
    ASSERT_TRUE(db.wait_for_state(j.id, "completed", 5s));
    EXPECT_EQ(db.get(j.id).result, (json{{"domain", "vm-1"}}));
    EXPECT_EQ(db.count("SELECT count(*) FROM commands"), 1);
}

TEST(jobs, a_failed_fleet_command_fails_the_job_with_the_agents_error) {
    jobs_database db;
    const auto host = add_host(db.url, "hv-1");
    job_runner runner(fast_options(db.url, 1));
    runner.add_handler("vm.stop", fleet_handler(host));
    runner.start();
    const auto j = db.add("vm.stop");
    fake_agent_answer agent{db.url, host, false, {}};
    ASSERT_TRUE(db.wait_until(agent));
    ASSERT_TRUE(db.wait_for_state(j.id, "failed", 5s));
    EXPECT_EQ(db.get(j.id).error["code"], "hypervisor_error");
}

TEST(jobs, a_fleet_step_resumed_after_a_stop_waits_for_the_command_it_already_sent) {
    jobs_database db;
    const auto host = add_host(db.url, "hv-1");
    const auto j = db.add("vm.stop");
    std::atomic<int> runs{0};
    {
        job_runner first(fast_options(db.url, 1));
        first.add_handler("vm.stop", fleet_handler(host, &runs));
        first.start();
        ASSERT_TRUE(db.wait_until([&] { return db.count("SELECT count(*) FROM commands") == 1; }));
        first.stop();  // while waiting for the agent
    }
    EXPECT_EQ(db.get(j.id).state, "pending");
    job_runner second(fast_options(db.url, 1));
    second.add_handler("vm.stop", fleet_handler(host, &runs));
    second.start();
    ASSERT_TRUE(db.wait_until([&] { return runs == 2; }));
    fake_agent_answer agent{db.url, host, true, {}};
    ASSERT_TRUE(db.wait_until(agent));
    ASSERT_TRUE(db.wait_for_state(j.id, "completed", 5s));
    EXPECT_EQ(db.count("SELECT count(*) FROM commands"), 1);  // sent once, waited for twice
}

TEST(jobs, waiting_for_a_command_nobody_answers_ends_when_it_expires) {
    jobs_database db;
    const auto host = add_host(db.url, "hv-1");
    pqxx::connection conn(db.url);
    const auto deadline = std::chrono::system_clock::now() + 200ms;
    const auto id = fleet::submit_command(conn, host, "domain.stop", json::object(), deadline);
    const auto out = wait_for_command(conn, id, deadline, nullptr, 100ms);
    EXPECT_EQ(out.state, "expired");
    EXPECT_EQ(out.error["code"], "deadline_passed");
}
