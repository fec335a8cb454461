#pragma once
// Job handlers shared by the jobs tests and jobs_test_worker (the child process a test kills):
// each step records its side effect in the `effects` table through the step's transaction, so a
// test counts exactly how many times each step took effect.
#include "coordinator/jobs/job_runner.hpp"
#include "coordinator/store/migrations.hpp"

#include <pqxx/pqxx>

#include <chrono>
#include <string>
#include <thread>

namespace vpsfleet::testing {

inline void prepare_jobs_database(const std::string& url) {
    pqxx::connection conn(url);
    store::apply_migrations(conn, store::embedded_migrations());
    pqxx::work tx(conn);
    tx.exec(
        "CREATE TABLE IF NOT EXISTS effects (n bigint GENERATED ALWAYS AS IDENTITY, job_id bigint "
        "NOT NULL, what text NOT NULL, worker_pid integer NOT NULL DEFAULT pg_backend_pid())");
    tx.commit();
}

inline void record_effect(jobs::step_context& ctx, const std::string& what) {
    ctx.tx().exec_params("INSERT INTO effects (job_id, what) VALUES ($1, $2)",
                         ctx.job().lease.job_id, what);
}

// Two steps; with hang_in_second, the second one records its effect (uncommitted), reports
// "hanging" and then waits forever, as a worker that is about to be killed.
inline jobs::job_handler two_step_handler(bool hang_in_second) {
    jobs::job_handler h;
    h.steps.push_back(jobs::job_step{"first",
                                     [](jobs::step_context& ctx) {
                                         record_effect(ctx, "first");
                                         return nlohmann::json{{"first", true}};
                                     },
                                     {}});
    h.steps.push_back(
        jobs::job_step{"second",
                       [hang_in_second](jobs::step_context& ctx) {
                           record_effect(ctx, "second");
                           if (hang_in_second) {
                               ctx.progress("hanging");
                               for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
                           }
                           return nlohmann::json{{"second", ctx.output_of(0)["first"]}};
                       },
                       {}});
    return h;
}

}  // namespace vpsfleet::testing
