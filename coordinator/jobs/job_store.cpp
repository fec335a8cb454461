#include "coordinator/jobs/job_store.hpp"

#include <openssl/rand.h>

#include <stdexcept>

namespace vpsfleet::jobs {

namespace {

constexpr const char* k_job_columns =
    "id, uid, kind, args::text, state, phase, attempts, max_attempts, progress_step, "
    "progress_total, progress_percent, progress_message, result::text, error::text, "
    "created_by_user_id, project_id, target, lease_owner, cancel_requested, last_event_seq, "
    "(extract(epoch FROM created_at) * 1000)::bigint, (extract(epoch FROM started_at) * "
    "1000)::bigint, "
    "(extract(epoch FROM finished_at) * 1000)::bigint, (extract(epoch FROM updated_at) * "
    "1000)::bigint";

// Appends an event for the job row(s) an UPDATE in CTE `j` returned and notifies watchers; `j`
// must return id, last_event_seq and lease_owner.
constexpr const char* k_event_from_j =
    "e AS (INSERT INTO job_events (job_id, seq, type, data, worker) "
    "SELECT id, last_event_seq, $3, $4::jsonb, lease_owner FROM j) ";

time_point from_ms(long long ms) { return time_point(std::chrono::milliseconds(ms)); }

nlohmann::json json_or_null(const pqxx::field& f) {
    return f.is_null() ? nlohmann::json() : nlohmann::json::parse(f.as<std::string>());
}

template <class T>
std::optional<T> optional_field(const pqxx::field& f) {
    if (f.is_null()) return std::nullopt;
    return f.as<T>();
}

// A parameter that is SQL NULL when absent.
const char* nullable(const std::optional<std::string>& s) { return s ? s->c_str() : nullptr; }
std::optional<std::string> as_text(const std::optional<std::int64_t>& v) {
    if (!v) return std::nullopt;
    return std::to_string(*v);
}

std::string text_array(const std::vector<std::string>& items) {
    std::string out = "{";
    for (const auto& item : items) {
        if (out.size() > 1) out += ',';
        out += '"';
        for (char c : item) {
            if (c == '"' || c == '\\') out += '\\';
            out += c;
        }
        out += '"';
    }
    return out + "}";
}

template <class T>
std::string number_array(const std::vector<T>& items) {
    std::string out = "{";
    for (const auto& item : items) {
        if (out.size() > 1) out += ',';
        out += std::to_string(item);
    }
    return out + "}";
}

std::string new_uid() {
    // Lower-case letters and digits without look-alikes, like the ids clients already see.
    static constexpr char alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
    unsigned char bytes[12];
    if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("RAND_bytes failed");
    std::string uid = "job_";
    for (unsigned char b : bytes) uid += alphabet[b % 32];
    return uid;
}

job read_job(const pqxx::row& r) {
    job j;
    j.id = r[0].as<std::int64_t>();
    j.uid = r[1].as<std::string>();
    j.kind = r[2].as<std::string>();
    j.args = nlohmann::json::parse(r[3].as<std::string>());
    j.state = r[4].as<std::string>();
    j.phase = r[5].as<std::string>();
    j.attempts = r[6].as<int>();
    j.max_attempts = r[7].as<int>();
    if (!r[8].is_null()) {
        j.progress = job_progress{r[8].as<int>(), r[9].is_null() ? 0 : r[9].as<int>(),
                                  r[10].is_null() ? 0 : r[10].as<int>(),
                                  r[11].is_null() ? "" : r[11].as<std::string>()};
    }
    j.result = json_or_null(r[12]);
    j.error = json_or_null(r[13]);
    j.created_by_user_id = optional_field<std::int64_t>(r[14]);
    j.project_id = optional_field<std::int64_t>(r[15]);
    j.target = optional_field<std::string>(r[16]);
    j.worker = optional_field<std::string>(r[17]);
    j.cancel_requested = r[18].as<bool>();
    j.last_event_seq = r[19].as<std::int64_t>();
    j.created_at = from_ms(r[20].as<long long>());
    if (!r[21].is_null()) j.started_at = from_ms(r[21].as<long long>());
    if (!r[22].is_null()) j.finished_at = from_ms(r[22].as<long long>());
    j.updated_at = from_ms(r[23].as<long long>());
    return j;
}

// Applies `set` (its parameters from $5 on) to the job if `l` still holds it, records an event of
// `type` with `data` and notifies watchers, all in one statement.
template <class... Args>
lease_check fenced_update(pqxx::transaction_base& tx, const job_lease& l, const std::string& set,
                          const char* type, const nlohmann::json& data, Args&&... args) {
    const std::string sql = "WITH j AS (UPDATE jobs SET " + set +
                            ", last_event_seq = last_event_seq + 1, updated_at = now() "
                            "WHERE id = $1 AND attempts = $2 AND state = 'running' "
                            "RETURNING id, last_event_seq, lease_owner, cancel_requested), " +
                            k_event_from_j + "SELECT cancel_requested, pg_notify('" +
                            k_job_events_channel + "', id::text) FROM j";
    const pqxx::result rows =
        tx.exec_params(sql, l.job_id, l.attempt, type, data.dump(), std::forward<Args>(args)...);
    if (rows.empty()) return {};
    return {true, rows[0][0].as<bool>()};
}

template <class... Args>
lease_check fenced_update_committed(pqxx::connection& conn, const job_lease& l,
                                    const std::string& set, const char* type,
                                    const nlohmann::json& data, Args&&... args) {
    // One statement is atomic on its own: no BEGIN and COMMIT round trips.
    pqxx::nontransaction tx(conn);
    return fenced_update(tx, l, set, type, data, std::forward<Args>(args)...);
}

// The job to take: `which` selects its id, using $3 (the kinds) as it needs.
std::string by_id(std::int64_t id) {
    return "(SELECT id FROM jobs WHERE id = " + std::to_string(id) + " AND kind = ANY($3::text[]))";
}

// Takes the job `which` selects (locked by this transaction) for `worker`.
std::optional<claimed_job> take(pqxx::transaction_base& tx, const std::string& worker,
                                std::chrono::milliseconds lease_time, const std::string& which,
                                const std::string& kinds) {
    const std::string sql =
        "WITH j AS (UPDATE jobs SET state = 'running', attempts = attempts + 1, lease_owner = $1, "
        "lease_expires_at = now() + $2::float8 * interval '1 millisecond', "
        "started_at = coalesce(started_at, now()), last_event_seq = last_event_seq + 1, "
        "updated_at = now() WHERE id = " +
        which +
        " RETURNING *), "
        "e AS (INSERT INTO job_events (job_id, seq, type, data, worker) "
        "SELECT id, last_event_seq, 'started', jsonb_build_object('attempt', attempts), "
        "lease_owner FROM j) "
        "SELECT id, attempts, uid, kind, args::text, phase, max_attempts, cancel_requested, "
        "error::text, project_id, target, last_event_seq, pg_notify('" +
        k_job_events_channel + "', id::text) FROM j";
    const auto rows =
        tx.exec_params(sql, worker, static_cast<long long>(lease_time.count()), kinds);
    if (rows.empty()) return std::nullopt;
    // The job is ours from here: what follows may read outside the claiming statement.
    const auto& r = rows[0];
    claimed_job c;
    c.lease = job_lease{r[0].as<std::int64_t>(), r[1].as<int>()};
    c.uid = r[2].as<std::string>();
    c.kind = r[3].as<std::string>();
    c.args = nlohmann::json::parse(r[4].as<std::string>());
    c.phase = r[5].as<std::string>();
    c.max_attempts = r[6].as<int>();
    c.cancel_requested = r[7].as<bool>();
    c.error = json_or_null(r[8]);
    c.project_id = optional_field<std::int64_t>(r[9]);
    c.target = optional_field<std::string>(r[10]);
    // A job whose only events are queued and this start has no steps yet: the common path skips
    // the query. (Attempts alone do not tell: a job handed back on stop did not use one up.)
    if (r[11].as<std::int64_t>() > 2) {
        for (const auto& s :
             tx.exec_params("SELECT step_index, state, checkpoint::text, undo_checkpoint::text, "
                            "output::text FROM job_steps WHERE job_id = $1 ORDER BY step_index",
                            c.lease.job_id)) {
            c.steps.push_back(step_record{s[0].as<int>(), s[1].as<std::string>(),
                                          json_or_null(s[2]), json_or_null(s[3]),
                                          json_or_null(s[4])});
        }
    }
    return c;
}

// Ends a job whose worker kept dying without handing it to anyone.
void fail_abandoned(pqxx::work& tx, std::int64_t id, const nlohmann::json& error) {
    tx.exec_params(
        std::string("WITH j AS (UPDATE jobs SET state = 'failed', error = $4::jsonb, "
                    "finished_at = now(), lease_expires_at = NULL, "
                    "last_event_seq = last_event_seq + 1, updated_at = now() WHERE id = $1 "
                    "RETURNING id, last_event_seq, lease_owner), "
                    "e AS (INSERT INTO job_events (job_id, seq, type, data, worker) "
                    "SELECT id, last_event_seq, $2, jsonb_build_object('error', $4::jsonb), "
                    "lease_owner FROM j) "
                    "SELECT pg_notify($3, id::text) FROM j"),
        id, "failed", k_job_events_channel, error.dump());
}

}  // namespace

nlohmann::json error_json(const std::string& code, const std::string& message) {
    return nlohmann::json{{"code", code}, {"message", message}};
}

bool is_final_state(const std::string& state) {
    return state == "completed" || state == "failed" || state == "cancelled";
}

bool is_final_event(const std::string& type) { return is_final_state(type); }

const char* to_string(cancel_outcome o) {
    switch (o) {
        case cancel_outcome::cancelled:
            return "cancelled";
        case cancel_outcome::requested:
            return "requested";
        case cancel_outcome::already_finished:
            return "already_finished";
        case cancel_outcome::not_found:
            return "not_found";
    }
    return "unknown";
}

std::optional<enqueued_job> enqueue(pqxx::work& tx, const new_job& job) {
    const std::string uid = new_uid();
    const auto user = as_text(job.created_by_user_id);
    const auto project = as_text(job.project_id);
    const auto rows = tx.exec_params(
        std::string(
            "WITH j AS (INSERT INTO jobs (uid, kind, args, max_attempts, run_after, "
            "created_by_user_id, project_id, target, exclusive, last_event_seq) "
            "VALUES ($1, $2, $3::jsonb, $4, now() + $5::float8 * interval '1 millisecond', "
            "$6::bigint, "
            "$7::bigint, $8, $9, 1) "
            "ON CONFLICT (target) WHERE exclusive AND state IN ('pending', 'running') DO NOTHING "
            "RETURNING id, kind), "
            "e AS (INSERT INTO job_events (job_id, seq, type) SELECT id, 1, 'queued' FROM j) "
            "SELECT id, pg_notify('") +
            k_job_events_channel + "', id::text), pg_notify('" + k_job_ready_channel +
            "', kind) FROM j",
        uid, job.kind, job.args.dump(), job.max_attempts, static_cast<long long>(job.delay.count()),
        nullable(user), nullable(project), nullable(job.target), job.exclusive);
    if (rows.empty()) return std::nullopt;
    return enqueued_job{rows[0][0].as<std::int64_t>(), uid};
}

std::optional<job> get_job(pqxx::connection& conn, std::int64_t id) {
    pqxx::read_transaction tx(conn);
    const auto rows =
        tx.exec_params(std::string("SELECT ") + k_job_columns + " FROM jobs WHERE id = $1", id);
    if (rows.empty()) return std::nullopt;
    return read_job(rows[0]);
}

std::optional<job> get_job_by_uid(pqxx::connection& conn, const std::string& uid) {
    pqxx::read_transaction tx(conn);
    const auto rows =
        tx.exec_params(std::string("SELECT ") + k_job_columns + " FROM jobs WHERE uid = $1", uid);
    if (rows.empty()) return std::nullopt;
    return read_job(rows[0]);
}

std::vector<job> list_jobs(pqxx::connection& conn, const job_filter& f) {
    pqxx::read_transaction tx(conn);
    const auto project = as_text(f.project_id);
    const auto user = as_text(f.created_by_user_id);
    const auto before = as_text(f.before_id);
    const auto rows = tx.exec_params(
        std::string("SELECT ") + k_job_columns +
            " FROM jobs WHERE ($1::bigint IS NULL OR project_id = $1::bigint) "
            "AND ($2::text IS NULL OR target = $2) AND ($3::text IS NULL OR state = $3) "
            "AND ($4::text IS NULL OR kind = $4) "
            "AND ($5::bigint IS NULL OR created_by_user_id = $5::bigint) "
            "AND ($6::bigint IS NULL OR id < $6::bigint) ORDER BY id DESC LIMIT $7",
        nullable(project), nullable(f.target), nullable(f.state), nullable(f.kind), nullable(user),
        nullable(before), f.limit);
    std::vector<job> out;
    for (const auto& r : rows) out.push_back(read_job(r));
    return out;
}

std::vector<job_event> events_after(pqxx::connection& conn, std::int64_t job_id,
                                    std::int64_t after_seq, int limit) {
    pqxx::read_transaction tx(conn);
    std::vector<job_event> out;
    for (const auto& r :
         tx.exec_params("SELECT seq, type, data::text, coalesce(worker, ''), "
                        "(extract(epoch FROM created_at) * 1000)::bigint FROM job_events "
                        "WHERE job_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                        job_id, after_seq, limit)) {
        out.push_back(job_event{job_id, r[0].as<std::int64_t>(), r[1].as<std::string>(),
                                nlohmann::json::parse(r[2].as<std::string>()),
                                r[3].as<std::string>(), from_ms(r[4].as<long long>())});
    }
    return out;
}

cancel_outcome request_cancel(pqxx::connection& conn, std::int64_t job_id,
                              const std::string& reason) {
    pqxx::work tx(conn);
    const auto rows = tx.exec_params(
        "SELECT state, cancel_requested, EXISTS (SELECT 1 FROM job_steps s WHERE s.job_id = "
        "jobs.id AND s.state = 'done') FROM jobs WHERE id = $1 FOR UPDATE",
        job_id);
    if (rows.empty()) return cancel_outcome::not_found;
    const auto state = rows[0][0].as<std::string>();
    if (is_final_state(state)) return cancel_outcome::already_finished;
    if (rows[0][1].as<bool>()) return cancel_outcome::requested;
    const auto error = error_json("cancelled", reason).dump();
    // A pending job with nothing to undo ends here; anything else goes through a worker, which
    // stops at its next step boundary and compensates what was done.
    const bool at_once = state == "pending" && !rows[0][2].as<bool>();
    tx.exec_params(
        std::string("WITH j AS (UPDATE jobs SET cancel_requested = true, "
                    "error = CASE WHEN phase = 'compensating' THEN error ELSE $2::jsonb END, "
                    "state = CASE WHEN $3 THEN 'cancelled' ELSE state END, "
                    "finished_at = CASE WHEN $3 THEN now() END, "
                    "last_event_seq = last_event_seq + 1, updated_at = now() WHERE id = $1 "
                    "RETURNING id, last_event_seq, lease_owner) "
                    "INSERT INTO job_events (job_id, seq, type, data, worker) "
                    "SELECT id, last_event_seq, $4, jsonb_build_object('reason', $5::text), "
                    "lease_owner FROM j"),
        job_id, error, at_once, at_once ? "cancelled" : "cancel_requested", reason);
    tx.exec_params("SELECT pg_notify($1, $2)", k_job_events_channel, std::to_string(job_id));
    if (!at_once)
        tx.exec_params("SELECT pg_notify($1, $2)", k_job_cancel_channel, std::to_string(job_id));
    tx.commit();
    return at_once ? cancel_outcome::cancelled : cancel_outcome::requested;
}

std::optional<claimed_job> claim_job(pqxx::connection& conn, const std::string& worker,
                                     std::chrono::milliseconds lease_time,
                                     const std::vector<std::string>& kinds, bool look_for_expired) {
    const auto kind_list = text_array(kinds);
    // Jobs whose worker died first, so they are not starved by a long queue.
    while (look_for_expired) {
        pqxx::work tx(conn);
        const auto expired = tx.exec_params(
            "SELECT id, attempts, max_attempts, phase, EXISTS (SELECT 1 FROM job_steps s WHERE "
            "s.job_id = jobs.id AND s.state = 'done') FROM jobs WHERE state = 'running' AND "
            "lease_expires_at < now() AND kind = ANY($1::text[]) ORDER BY lease_expires_at "
            "LIMIT 1 FOR UPDATE SKIP LOCKED",
            kind_list);
        if (expired.empty()) break;
        const auto id = expired[0][0].as<std::int64_t>();
        const int attempts = expired[0][1].as<int>();
        const int max_attempts = expired[0][2].as<int>();
        const bool compensating = expired[0][3].as<std::string>() == "compensating";
        const bool has_done_steps = expired[0][4].as<bool>();
        if (attempts >= max_attempts) {
            const auto lost = error_json(
                "worker_lost",
                "the worker running this job stopped responding " + std::to_string(attempts) +
                    " times" +
                    (compensating ? "; undoing its completed steps did not finish" : ""));
            if (compensating || !has_done_steps) {
                fail_abandoned(tx, id, lost);
                tx.commit();
                continue;
            }
            // Out of attempts with work done: one more claim, to undo that work.
            tx.exec_params(
                "UPDATE jobs SET phase = 'compensating', error = coalesce(error, $2::jsonb) "
                "WHERE id = $1",
                id, lost.dump());
        }
        auto c = take(tx, worker, lease_time, by_id(id), kind_list);
        tx.commit();
        return c;
    }
    // The common path: one statement, atomic without a transaction around it. The due head of each
    // kind's queue is an index probe; the oldest of those is taken (the others are locked only
    // for the length of this statement).
    pqxx::nontransaction tx(conn);
    return take(tx, worker, lease_time,
                "(SELECT h.id FROM unnest($3::text[]) AS k(kind) CROSS JOIN LATERAL "
                "(SELECT id, run_after FROM jobs WHERE state = 'pending' AND kind = k.kind AND "
                "run_after <= now() ORDER BY run_after, id LIMIT 1 FOR UPDATE SKIP LOCKED) AS h "
                "ORDER BY h.run_after, h.id LIMIT 1)",
                kind_list);
}

std::vector<std::pair<std::int64_t, bool>> extend_leases(pqxx::connection& conn,
                                                         const std::vector<job_lease>& leases,
                                                         std::chrono::milliseconds lease_time) {
    std::vector<std::int64_t> ids;
    std::vector<int> attempts;
    for (const auto& l : leases) {
        ids.push_back(l.job_id);
        attempts.push_back(l.attempt);
    }
    pqxx::nontransaction tx(conn);
    const auto rows = tx.exec_params(
        "UPDATE jobs SET lease_expires_at = now() + $3::float8 * interval '1 millisecond' "
        "FROM unnest($1::bigint[], $2::int[]) AS l(id, attempt) "
        "WHERE jobs.id = l.id AND jobs.attempts = l.attempt AND jobs.state = 'running' "
        "RETURNING jobs.id, jobs.cancel_requested",
        number_array(ids), number_array(attempts), static_cast<long long>(lease_time.count()));
    std::vector<std::pair<std::int64_t, bool>> held;
    for (const auto& r : rows) held.emplace_back(r[0].as<std::int64_t>(), r[1].as<bool>());
    return held;
}

lease_check report_progress(pqxx::connection& conn, const job_lease& l, const job_progress& p) {
    return fenced_update_committed(
        conn, l,
        "progress_step = $5, progress_total = $6, progress_percent = $7, progress_message = $8",
        "progress",
        nlohmann::json{
            {"step", p.step}, {"total", p.total}, {"percent", p.percent}, {"message", p.message}},
        p.step, p.total, p.percent, p.message);
}

lease_check save_checkpoint(pqxx::connection& conn, const job_lease& l, int step_index,
                            const std::string& step_name, const nlohmann::json& checkpoint,
                            bool undo) {
    const std::string column = undo ? "undo_checkpoint" : "checkpoint";
    pqxx::nontransaction tx(conn);
    // Locking the job row orders this write with any claim that would take the job over.
    const auto rows = tx.exec_params(
        "WITH j AS (SELECT id, cancel_requested FROM jobs WHERE id = $1 AND attempts = $2 AND "
        "state = 'running' FOR UPDATE), "
        "s AS (INSERT INTO job_steps (job_id, step_index, name, state, " +
            column +
            ", checkpoint_at) "
            "SELECT id, $3, $4, 'started', $5::jsonb, now() FROM j "
            "ON CONFLICT (job_id, step_index) DO UPDATE SET " +
            column + " = excluded." + column +
            ", checkpoint_at = now()) "
            "SELECT cancel_requested FROM j",
        l.job_id, l.attempt, step_index, step_name, checkpoint.dump());
    if (rows.empty()) return {};
    return {true, rows[0][0].as<bool>()};
}

lease_check mark_step_done(pqxx::transaction_base& tx, const job_lease& l, int step_index,
                           const std::string& step_name, const nlohmann::json& output) {
    const auto rows = tx.exec_params(
        "WITH j AS (UPDATE jobs SET updated_at = now() WHERE id = $1 AND attempts = $2 AND "
        "state = 'running' RETURNING id, cancel_requested), "
        "s AS (INSERT INTO job_steps (job_id, step_index, name, state, output, done_at) "
        "SELECT id, $3, $4, 'done', $5::jsonb, now() FROM j "
        "ON CONFLICT (job_id, step_index) DO UPDATE SET state = 'done', output = "
        "excluded.output, done_at = now()) "
        "SELECT cancel_requested FROM j",
        l.job_id, l.attempt, step_index, step_name, output.dump());
    if (rows.empty()) return {};
    return {true, rows[0][0].as<bool>()};
}

lease_check mark_step_compensated(pqxx::transaction_base& tx, const job_lease& l, int step_index) {
    const auto rows = tx.exec_params(
        "WITH j AS (UPDATE jobs SET updated_at = now() WHERE id = $1 AND attempts = $2 AND "
        "state = 'running' RETURNING id, cancel_requested), "
        "s AS (UPDATE job_steps SET state = 'compensated', compensated_at = now() "
        "WHERE job_id = (SELECT id FROM j) AND step_index = $3) "
        "SELECT cancel_requested FROM j",
        l.job_id, l.attempt, step_index);
    if (rows.empty()) return {};
    return {true, rows[0][0].as<bool>()};
}

lease_check begin_compensation(pqxx::connection& conn, const job_lease& l,
                               const nlohmann::json& error) {
    return fenced_update_committed(conn, l,
                                   "phase = 'compensating', "
                                   "error = coalesce(NULLIF($5::jsonb, 'null'::jsonb), error)",
                                   "compensating", nlohmann::json{{"error", error}}, error.dump());
}

lease_check complete_job(pqxx::connection& conn, const job_lease& l, const nlohmann::json& result) {
    pqxx::nontransaction tx(conn);
    return complete_job(tx, l, result);
}

lease_check complete_job(pqxx::transaction_base& tx, const job_lease& l,
                         const nlohmann::json& result) {
    return fenced_update(
        tx, l,
        "state = 'completed', result = $5::jsonb, finished_at = now(), lease_expires_at = NULL, "
        "progress_percent = CASE WHEN progress_step IS NULL THEN NULL ELSE 100 END, "
        "progress_step = progress_total",
        "completed", nlohmann::json{{"result", result}}, result.dump());
}

lease_check fail_job(pqxx::connection& conn, const job_lease& l, const nlohmann::json& error) {
    return fenced_update_committed(
        conn, l,
        "state = 'failed', error = $5::jsonb, finished_at = now(), lease_expires_at = NULL",
        "failed", nlohmann::json{{"error", error}}, error.dump());
}

lease_check finish_cancelled(pqxx::connection& conn, const job_lease& l) {
    pqxx::work tx(conn);
    const auto reason =
        tx.exec_params("SELECT coalesce(error->>'message', '') FROM jobs WHERE id = $1", l.job_id);
    const std::string why = reason.empty() ? "" : reason[0][0].as<std::string>();
    const auto out =
        fenced_update(tx, l, "state = 'cancelled', finished_at = now(), lease_expires_at = NULL",
                      "cancelled", nlohmann::json{{"reason", why}});
    tx.commit();
    return out;
}

lease_check retry_job(pqxx::connection& conn, const job_lease& l, const nlohmann::json& error,
                      std::chrono::milliseconds delay) {
    return fenced_update_committed(
        conn, l,
        "state = 'pending', lease_expires_at = NULL, "
        "error = CASE WHEN phase = 'compensating' THEN error ELSE $5::jsonb END, "
        "run_after = now() + $6::float8 * interval '1 millisecond'",
        "retrying", nlohmann::json{{"error", error}, {"delay_ms", delay.count()}}, error.dump(),
        static_cast<long long>(delay.count()));
}

lease_check release_job(pqxx::connection& conn, const job_lease& l) {
    pqxx::work tx(conn);
    const auto out = fenced_update(
        tx, l,
        "state = 'pending', attempts = attempts - 1, lease_expires_at = NULL, run_after = now()",
        "requeued", nlohmann::json{{"reason", "worker stopping"}});
    if (out.held) {
        tx.exec_params("SELECT pg_notify($1, kind) FROM jobs WHERE id = $2", k_job_ready_channel,
                       l.job_id);
    }
    tx.commit();
    return out;
}

}  // namespace vpsfleet::jobs
