#pragma once
// Durable jobs in PostgreSQL (table jobs, see migrations/0005_jobs.sql). Callers enqueue inside
// their own transaction, so a job exists exactly when the change that asked for it committed.
// Workers claim with FOR UPDATE SKIP LOCKED and hold a job by a lease they keep extending; every
// write a worker makes is fenced by (job id, attempt), so a worker whose lease was taken over by
// another changes nothing. Every change a watcher can see is appended to job_events and announced
// with NOTIFY vpsfleet_job_events '<job id>'. Blocking calls: run them on worker threads.
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vpsfleet::jobs {

inline constexpr const char* k_job_events_channel = "vpsfleet_job_events";
// Payload: the job's kind; wakes idle workers when a job becomes claimable.
inline constexpr const char* k_job_ready_channel = "vpsfleet_job_ready";
// Payload: the job id; tells the worker running it that cancellation was asked for.
inline constexpr const char* k_job_cancel_channel = "vpsfleet_job_cancel";

using time_point = std::chrono::system_clock::time_point;

struct new_job {
    std::string kind;
    nlohmann::json args = nlohmann::json::object();
    int max_attempts = 3;
    std::optional<std::int64_t> created_by_user_id = {};
    std::optional<std::int64_t> project_id = {};
    std::optional<std::string> target = {};
    // Refuse the job while another exclusive job for the same target is pending or running.
    bool exclusive = false;
    std::chrono::milliseconds delay{0};
};

struct enqueued_job {
    std::int64_t id = 0;
    std::string uid;
};

// Inserts the job inside the caller's transaction; nothing is visible to workers or watchers
// until it commits. nullopt: an exclusive job for the same target is still open.
std::optional<enqueued_job> enqueue(pqxx::work& tx, const new_job& job);

struct job_progress {
    int step = 0;
    int total = 0;
    int percent = 0;
    std::string message;
};

struct job {
    std::int64_t id = 0;
    std::string uid;
    std::string kind;
    nlohmann::json args;
    std::string state;  // pending, running, completed, failed, cancelled
    std::string phase;  // forward, compensating
    int attempts = 0;
    int max_attempts = 0;
    std::optional<job_progress> progress;
    nlohmann::json result;
    nlohmann::json error;  // null or {"code", "message"}
    std::optional<std::int64_t> created_by_user_id;
    std::optional<std::int64_t> project_id;
    std::optional<std::string> target;
    std::optional<std::string> worker;  // lease owner
    bool cancel_requested = false;
    std::int64_t last_event_seq = 0;
    time_point created_at;
    std::optional<time_point> started_at;
    std::optional<time_point> finished_at;
    time_point updated_at;
};

bool is_final_state(const std::string& state);

std::optional<job> get_job(pqxx::connection& conn, std::int64_t id);
std::optional<job> get_job_by_uid(pqxx::connection& conn, const std::string& uid);

struct job_filter {
    std::optional<std::int64_t> project_id;
    std::optional<std::string> target;
    std::optional<std::string> state;
    std::optional<std::string> kind;
    std::optional<std::int64_t> created_by_user_id;
    std::optional<std::int64_t> before_id;  // paging: jobs older than this one
    int limit = 50;
};
// Newest first.
std::vector<job> list_jobs(pqxx::connection& conn, const job_filter& filter);

struct job_event {
    std::int64_t job_id = 0;
    std::int64_t seq = 0;
    // queued, started, progress, retrying, requeued, cancel_requested, compensating, completed,
    // failed, cancelled
    std::string type;
    nlohmann::json data;
    std::string worker;
    time_point at;
};
bool is_final_event(const std::string& type);
std::vector<job_event> events_after(pqxx::connection& conn, std::int64_t job_id,
                                    std::int64_t after_seq, int limit = 1000);

enum class cancel_outcome { cancelled, requested, already_finished, not_found };
const char* to_string(cancel_outcome o);
// A pending job is cancelled at once; a running one is flagged and its worker stops at its next
// step boundary or progress report, then compensates.
cancel_outcome request_cancel(pqxx::connection& conn, std::int64_t job_id,
                              const std::string& reason);

// ---- worker side -------------------------------------------------------------------------

// Identifies one claim of a job: attempts changes on every claim, so it fences stale workers.
struct job_lease {
    std::int64_t job_id = 0;
    int attempt = 0;
};

struct step_record {
    int index = 0;
    std::string state;  // started, done, compensated
    nlohmann::json checkpoint;
    nlohmann::json undo_checkpoint;  // saved while compensating
    nlohmann::json output;
};

struct claimed_job {
    job_lease lease;
    std::string uid;
    std::string kind;
    nlohmann::json args;
    std::string phase;
    int max_attempts = 0;
    bool cancel_requested = false;
    nlohmann::json error;  // why it is compensating, when it is
    std::optional<std::int64_t> project_id;
    std::optional<std::string> target;
    std::vector<step_record> steps;  // only those recorded, by index
};

// Takes the oldest claimable job of one of `kinds`: a running one whose lease expired (its worker
// died; only with look_for_expired) or else a pending one due to run. A job out of attempts is
// failed instead, or, when it has completed steps to undo, handed out once more to compensate
// them.
std::optional<claimed_job> claim_job(pqxx::connection& conn, const std::string& worker,
                                     std::chrono::milliseconds lease_time,
                                     const std::vector<std::string>& kinds,
                                     bool look_for_expired = true);

// What a fenced write learned: whether the lease is still ours and whether cancellation was asked.
struct lease_check {
    bool held = false;
    bool cancel_requested = false;
};

// Extends every lease still held; returns the cancellation flag per held job id (others are lost).
std::vector<std::pair<std::int64_t, bool>> extend_leases(pqxx::connection& conn,
                                                         const std::vector<job_lease>& leases,
                                                         std::chrono::milliseconds lease_time);
lease_check report_progress(pqxx::connection& conn, const job_lease& l, const job_progress& p);
// undo: the checkpoint of the step's compensation, kept apart from the one of its run.
lease_check save_checkpoint(pqxx::connection& conn, const job_lease& l, int step_index,
                            const std::string& step_name, const nlohmann::json& checkpoint,
                            bool undo = false);
// In the step's own transaction, so its database changes and its completion commit together.
lease_check mark_step_done(pqxx::transaction_base& tx, const job_lease& l, int step_index,
                           const std::string& step_name, const nlohmann::json& output);
lease_check mark_step_compensated(pqxx::transaction_base& tx, const job_lease& l, int step_index);
// error: why (null keeps the stored one, e.g. a cancellation's reason).
lease_check begin_compensation(pqxx::connection& conn, const job_lease& l,
                               const nlohmann::json& error);
lease_check complete_job(pqxx::connection& conn, const job_lease& l, const nlohmann::json& result);
// In the last step's own transaction: its changes and the job's completion commit together.
lease_check complete_job(pqxx::transaction_base& tx, const job_lease& l,
                         const nlohmann::json& result);
lease_check fail_job(pqxx::connection& conn, const job_lease& l, const nlohmann::json& error);
// The reason was stored in error when cancellation was asked for.
lease_check finish_cancelled(pqxx::connection& conn, const job_lease& l);
// Back to pending after `delay`; the attempt stays counted.
lease_check retry_job(pqxx::connection& conn, const job_lease& l, const nlohmann::json& error,
                      std::chrono::milliseconds delay);
// Back to pending at once without using up an attempt (the worker is stopping).
lease_check release_job(pqxx::connection& conn, const job_lease& l);

nlohmann::json error_json(const std::string& code, const std::string& message);

}  // namespace vpsfleet::jobs
