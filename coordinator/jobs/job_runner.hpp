#pragma once
// Job workers: N threads, each with its own PostgreSQL connections, claim jobs of the kinds they
// have handlers for and run them; one more thread keeps their leases alive and learns of
// cancellations. A handler is a list of steps. A step's completion is recorded in the same
// transaction as the database changes it made through step_context::tx() (for the last step, the
// job's completion is), so a job taken again after its worker died skips the steps recorded done
// and re-runs only the one it was in. When a step fails, or the job is cancelled before its last
// step finished, the steps done are compensated newest first, each compensation recorded the same
// way, and the job ends failed (or cancelled).
//
// Contract for steps: a step that throws, or is interrupted by a crash, leaves nothing behind
// outside tx() (which is rolled back), or makes its outside effect idempotent (fleet_step keeps the
// command it sent in a checkpoint, so a retry waits for that command instead of sending another).
#include "coordinator/jobs/job_store.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace vpsfleet::fleet {
class notification_listener;
}

namespace vpsfleet::jobs {

// Thrown by a step: the job fails with this error once the steps done are compensated.
struct step_failed : std::runtime_error {
    step_failed(std::string code, const std::string& message)
        : std::runtime_error(message), code(std::move(code)) {}
    std::string code;
};

// Thrown by a step: run the job again after `delay` (steps done stay done); when its attempts are
// used up the job fails instead.
struct retry_later : std::runtime_error {
    retry_later(const std::string& message, std::chrono::milliseconds delay)
        : std::runtime_error(message), delay(delay) {}
    std::chrono::milliseconds delay;
};

// Thrown by step_context: stop now. Steps let these pass.
struct job_cancelled : std::runtime_error {
    using std::runtime_error::runtime_error;
};
// The runner is stopping (the job is handed back) or the lease was lost (another worker has it).
struct job_interrupted : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct active_job;

class step_context {
  public:
    step_context(pqxx::connection& control, pqxx::connection& step_conn, const claimed_job& job,
                 active_job& active, const std::atomic<bool>& stopping, int index, int total,
                 const std::string& name, const std::vector<nlohmann::json>& outputs,
                 nlohmann::json checkpoint, bool compensating);

    const claimed_job& job() const { return job_; }
    const nlohmann::json& args() const { return job_.args; }
    int step_index() const { return index_; }
    const std::string& step_name() const { return name_; }
    // What step `index` returned (null if it has not run); in compensate, output_of(step_index())
    // is what this step's run returned.
    const nlohmann::json& output_of(int index) const;
    const nlohmann::json& output() const { return output_of(index_); }

    // A transaction committed together with this step's completion (or compensation): database
    // changes made here happen exactly once. Rolled back if the step throws.
    pqxx::work& tx();
    // A connection for anything else (reads, fleet commands, LISTEN). Do not keep a transaction
    // open on it across calls to this context.
    pqxx::connection& connection() { return control_; }

    // Records progress within this step (fraction of the step, 0..1) for watchers. Throws
    // job_cancelled when cancellation was asked for (not while compensating) and job_interrupted
    // when the runner is stopping or the job was taken over.
    void progress(const std::string& message, std::optional<double> fraction = std::nullopt);
    // The same checks without writing anything.
    void check();
    bool cancel_requested() const;
    bool interrupted() const;

    // Durable state within a step, kept if the step is run again after a crash. Throws
    // job_interrupted only when the job was taken over.
    const nlohmann::json& checkpoint() const { return checkpoint_; }
    void save_checkpoint(const nlohmann::json& value);

    // Used by the runner.
    // completes_job: the last step; the job completes with its output instead of the step being
    // recorded, in the same transaction.
    lease_check commit_done(const nlohmann::json& output, bool completes_job);
    lease_check commit_compensated();

  private:
    pqxx::connection& control_;
    pqxx::connection& step_conn_;
    const claimed_job& job_;
    active_job& active_;
    const std::atomic<bool>& stopping_;
    int index_;
    int total_;
    std::string name_;
    const std::vector<nlohmann::json>& outputs_;
    nlohmann::json checkpoint_;
    bool compensating_;
    std::optional<pqxx::work> tx_;
};

struct job_step {
    std::string name;
    std::function<nlohmann::json(step_context&)> run;
    std::function<void(step_context&)> compensate;  // may be empty: nothing to undo
};

struct job_handler {
    std::vector<job_step> steps;  // the job's result is what the last one returns
};

struct runner_options {
    std::string conninfo;
    std::size_t workers = 2;
    std::chrono::milliseconds lease_time{30'000};
    // How often an idle worker looks for due jobs without a notification (retries, expired leases).
    std::chrono::milliseconds poll_interval{1'000};
    std::string name;  // worker ids are name/wN; empty: hostname:pid
};

struct runner_stats {
    std::uint64_t claimed = 0;
    std::uint64_t completed = 0;
    std::uint64_t failed = 0;
    std::uint64_t cancelled = 0;
    std::uint64_t retried = 0;
    std::uint64_t handed_back = 0;  // released on stop, or lost to another worker
};

class job_runner {
  public:
    explicit job_runner(runner_options options);
    ~job_runner();
    job_runner(const job_runner&) = delete;
    job_runner& operator=(const job_runner&) = delete;

    // Before start().
    void add_handler(const std::string& kind, job_handler handler);
    void start();
    // Takes no more jobs; each worker finishes (or is interrupted in) its current step and hands
    // its job back to the queue without using up an attempt. Returns when every thread has ended.
    void stop();
    runner_stats stats() const;

  private:
    struct counters {
        std::atomic<std::uint64_t> claimed{0}, completed{0}, failed{0}, cancelled{0}, retried{0},
            handed_back{0};
    };

    void work(std::size_t index);
    void run_job(pqxx::connection& control, pqxx::connection& step_conn, const claimed_job& job);
    void keep_leases();
    void on_notification(const std::string& channel, const std::string& payload);
    void idle(std::uint64_t seen, std::chrono::milliseconds how_long);

    runner_options options_;
    std::map<std::string, job_handler> handlers_;
    std::vector<std::string> kinds_;
    std::atomic<bool> stopping_{false};
    counters counters_;

    std::mutex mutex_;
    std::condition_variable wake_;
    std::uint64_t wakeups_ = 0;  // notifications seen; an idle worker wakes when it changes
    bool keeper_done_ = false;
    std::map<std::int64_t, std::shared_ptr<active_job>> active_;

    std::unique_ptr<fleet::notification_listener> listener_;
    std::vector<std::thread> workers_;
    std::thread keeper_;
};

}  // namespace vpsfleet::jobs
