#include "coordinator/jobs/job_runner.hpp"

#include "common/log.hpp"
#include "coordinator/fleet/notification_listener.hpp"

#include <unistd.h>

#include <algorithm>

namespace vpsfleet::jobs {

// What the worker running a job and the lease keeper share about it.
struct active_job {
    job_lease lease;
    std::atomic<bool> cancel{false};
    std::atomic<bool> lost{false};
};

namespace {

std::string default_name() {
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    return std::string(host[0] != '\0' ? host : "coordinator") + ":" + std::to_string(getpid());
}

std::string code_of(const nlohmann::json& error) {
    return error.is_object() ? error.value("code", "") : "";
}

}  // namespace

// ---- step_context ------------------------------------------------------------------------

step_context::step_context(pqxx::connection& control, pqxx::connection& step_conn,
                           const claimed_job& job, active_job& active,
                           const std::atomic<bool>& stopping, int index, int total,
                           const std::string& name, const std::vector<nlohmann::json>& outputs,
                           nlohmann::json checkpoint, bool compensating)
    : control_(control),
      step_conn_(step_conn),
      job_(job),
      active_(active),
      stopping_(stopping),
      index_(index),
      total_(total),
      name_(name),
      outputs_(outputs),
      checkpoint_(std::move(checkpoint)),
      compensating_(compensating) {}

const nlohmann::json& step_context::output_of(int index) const {
    static const nlohmann::json none;
    if (index < 0 || index >= static_cast<int>(outputs_.size())) return none;
    return outputs_[index];
}

pqxx::work& step_context::tx() {
    if (!tx_) tx_.emplace(step_conn_);
    return *tx_;
}

bool step_context::cancel_requested() const { return active_.cancel; }
bool step_context::interrupted() const { return stopping_ || active_.lost; }

void step_context::check() {
    if (active_.lost) throw job_interrupted("the job was taken over by another worker");
    if (stopping_) throw job_interrupted("the job runner is stopping");
    if (!compensating_ && active_.cancel) throw job_cancelled("cancellation requested");
}

void step_context::progress(const std::string& message, std::optional<double> fraction) {
    check();
    const double within = std::clamp(fraction.value_or(0.0), 0.0, 1.0);
    const int percent = total_ > 0 ? static_cast<int>((index_ + within) * 100.0 / total_) : 0;
    const auto r =
        report_progress(control_, job_.lease, job_progress{index_ + 1, total_, percent, message});
    if (!r.held) active_.lost = true;
    if (r.cancel_requested) active_.cancel = true;
    check();
}

void step_context::save_checkpoint(const nlohmann::json& value) {
    // No cancellation check: a step saves what it already did, which must not be lost.
    const auto r = jobs::save_checkpoint(control_, job_.lease, index_, name_, value, compensating_);
    if (!r.held) active_.lost = true;
    if (r.cancel_requested) active_.cancel = true;
    if (active_.lost) throw job_interrupted("the job was taken over by another worker");
    checkpoint_ = value;
}

lease_check step_context::commit_done(const nlohmann::json& output, bool completes_job) {
    const auto record = [&](pqxx::transaction_base& tx) {
        return completes_job ? complete_job(tx, job_.lease, output)
                             : mark_step_done(tx, job_.lease, index_, name_, output);
    };
    if (!tx_) {
        // Nothing of the step's own to commit with it: one statement, no transaction around it.
        pqxx::nontransaction alone(step_conn_);
        return record(alone);
    }
    auto r = record(*tx_);
    if (r.held) tx_->commit();
    tx_.reset();
    return r;
}

lease_check step_context::commit_compensated() {
    if (!tx_) {
        pqxx::nontransaction alone(step_conn_);
        return mark_step_compensated(alone, job_.lease, index_);
    }
    auto r = mark_step_compensated(*tx_, job_.lease, index_);
    if (r.held) tx_->commit();
    tx_.reset();
    return r;
}

// ---- job_runner --------------------------------------------------------------------------

job_runner::job_runner(runner_options options) : options_(std::move(options)) {
    if (options_.name.empty()) options_.name = default_name();
    if (options_.workers == 0) options_.workers = 1;
}

job_runner::~job_runner() { stop(); }

void job_runner::add_handler(const std::string& kind, job_handler handler) {
    if (!handlers_.contains(kind)) kinds_.push_back(kind);
    handlers_[kind] = std::move(handler);
}

void job_runner::start() {
    listener_ = std::make_unique<fleet::notification_listener>(
        options_.conninfo, std::vector<std::string>{k_job_ready_channel, k_job_cancel_channel},
        [this](const std::string& channel, const std::string& payload) {
            on_notification(channel, payload);
        });
    listener_->start();
    keeper_ = std::thread([this] { keep_leases(); });
    for (std::size_t i = 0; i < options_.workers; ++i)
        workers_.emplace_back([this, i] { work(i + 1); });
}

void job_runner::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_ && workers_.empty() && !keeper_.joinable()) return;
        stopping_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
    // The keeper ran until now so that leases held while workers finished stayed valid.
    {
        std::lock_guard lock(mutex_);
        keeper_done_ = true;
    }
    wake_.notify_all();
    if (keeper_.joinable()) keeper_.join();
    if (listener_) listener_->stop();
    listener_.reset();
}

runner_stats job_runner::stats() const {
    return runner_stats{counters_.claimed,   counters_.completed, counters_.failed,
                        counters_.cancelled, counters_.retried,   counters_.handed_back};
}

void job_runner::on_notification(const std::string& channel, const std::string& payload) {
    if (channel == k_job_cancel_channel) {
        std::int64_t id = 0;
        try {
            id = std::stoll(payload);
        } catch (const std::exception&) {
            return;
        }
        std::lock_guard lock(mutex_);
        if (auto it = active_.find(id); it != active_.end()) it->second->cancel = true;
        return;
    }
    {
        std::lock_guard lock(mutex_);
        ++wakeups_;
    }
    wake_.notify_all();
}

void job_runner::idle(std::uint64_t seen, std::chrono::milliseconds how_long) {
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, how_long, [&] { return stopping_ || wakeups_ != seen; });
}

void job_runner::work(std::size_t index) {
    const std::string worker = options_.name + "/w" + std::to_string(index);
    std::unique_ptr<pqxx::connection> control;
    std::unique_ptr<pqxx::connection> step_conn;
    int failures = 0;
    // Expired leases are rare: looked for once per poll interval, and whenever the queue is empty.
    std::chrono::steady_clock::time_point expiry_checked{};
    while (!stopping_) {
        std::uint64_t seen = 0;
        {
            std::lock_guard lock(mutex_);
            seen = wakeups_;
        }
        try {
            if (!control || !control->is_open())
                control = std::make_unique<pqxx::connection>(options_.conninfo);
            if (!step_conn || !step_conn->is_open())
                step_conn = std::make_unique<pqxx::connection>(options_.conninfo);
            const auto now = std::chrono::steady_clock::now();
            const bool look_for_expired = now - expiry_checked >= options_.poll_interval;
            if (look_for_expired) expiry_checked = now;
            auto job = claim_job(*control, worker, options_.lease_time, kinds_, look_for_expired);
            failures = 0;
            if (!job) {
                if (!look_for_expired) {
                    expiry_checked = {};
                    continue;
                }
                idle(seen, options_.poll_interval);
                continue;
            }
            ++counters_.claimed;
            run_job(*control, *step_conn, *job);
        } catch (const std::exception& e) {
            // The job in hand, if any, is taken again once its lease expires.
            if (failures++ == 0)
                log::warn("job worker: database error", {{"worker", worker}, {"error", e.what()}});
            control.reset();
            step_conn.reset();
            idle(seen, std::min(options_.poll_interval, std::chrono::milliseconds(250 * failures)));
        }
    }
}

void job_runner::keep_leases() {
    std::unique_ptr<pqxx::connection> conn;
    const auto interval = std::max(options_.lease_time / 3, std::chrono::milliseconds(10));
    bool reported = false;
    for (;;) {
        std::vector<std::shared_ptr<active_job>> held;
        {
            std::unique_lock lock(mutex_);
            wake_.wait_for(lock, interval, [&] { return keeper_done_; });
            if (keeper_done_) return;
            for (const auto& [id, a] : active_) held.push_back(a);
        }
        if (held.empty()) continue;
        std::vector<job_lease> leases;
        for (const auto& a : held) leases.push_back(a->lease);
        try {
            if (!conn || !conn->is_open())
                conn = std::make_unique<pqxx::connection>(options_.conninfo);
            const auto still = extend_leases(*conn, leases, options_.lease_time);
            reported = false;
            for (const auto& a : held) {
                auto it = std::find_if(still.begin(), still.end(),
                                       [&](const auto& s) { return s.first == a->lease.job_id; });
                // Not extended: finished meanwhile (harmless) or taken over by another worker.
                if (it == still.end()) {
                    a->lost = true;
                } else if (it->second) {
                    a->cancel = true;
                }
            }
        } catch (const std::exception& e) {
            if (!reported) log::warn("job leases not extended", {{"error", e.what()}});
            reported = true;
            conn.reset();
        }
    }
}

void job_runner::run_job(pqxx::connection& control, pqxx::connection& step_conn,
                         const claimed_job& job) {
    const auto& steps = handlers_.at(job.kind).steps;
    const int total = static_cast<int>(steps.size());
    auto active = std::make_shared<active_job>();
    active->lease = job.lease;
    active->cancel = job.cancel_requested;
    {
        std::lock_guard lock(mutex_);
        active_[job.lease.job_id] = active;
    }
    struct unregister {
        job_runner* runner;
        std::int64_t id;
        ~unregister() {
            std::lock_guard lock(runner->mutex_);
            runner->active_.erase(id);
        }
    } guard{this, job.lease.job_id};

    std::vector<nlohmann::json> outputs(total);
    std::vector<std::string> states(total);
    std::vector<nlohmann::json> checkpoints(total);
    std::vector<nlohmann::json> undo_checkpoints(total);
    for (const auto& s : job.steps) {
        if (s.index >= total) continue;
        states[s.index] = s.state;
        outputs[s.index] = s.output;
        checkpoints[s.index] = s.checkpoint;
        undo_checkpoints[s.index] = s.undo_checkpoint;
    }
    const auto note_lost = [&](const lease_check& r) {
        if (!r.held) {
            active->lost = true;
            throw job_interrupted("the job was taken over by another worker");
        }
        if (r.cancel_requested) active->cancel = true;
    };
    const auto log_fields = [&] {
        return nlohmann::json{{"job", job.uid}, {"kind", job.kind}, {"attempt", job.lease.attempt}};
    };

    nlohmann::json error;  // why the job fails, once a step failed
    try {
        if (job.phase != "compensating") {
            for (int k = 0; k < total && error.is_null() && !active->cancel; ++k) {
                if (states[k] == "done") continue;
                step_context ctx(control, step_conn, job, *active, stopping_, k, total,
                                 steps[k].name, outputs, checkpoints[k], false);
                try {
                    ctx.progress(steps[k].name);
                    auto out = steps[k].run ? steps[k].run(ctx) : nlohmann::json();
                    const bool last = k == total - 1;
                    note_lost(ctx.commit_done(out, last));
                    if (last) {
                        ++counters_.completed;
                        log::debug("job completed", log_fields());
                        return;
                    }
                    outputs[k] = std::move(out);
                    states[k] = "done";
                } catch (const job_cancelled&) {
                    active->cancel = true;
                } catch (const job_interrupted&) {
                    throw;
                } catch (const pqxx::broken_connection&) {
                    throw;
                } catch (const retry_later& r) {
                    if (job.lease.attempt < job.max_attempts) {
                        note_lost(retry_job(control, job.lease,
                                            error_json("retrying", steps[k].name + ": " + r.what()),
                                            r.delay));
                        ++counters_.retried;
                        return;
                    }
                    error = error_json("attempts_exhausted", steps[k].name + ": " + r.what());
                } catch (const step_failed& f) {
                    error = error_json(f.code, f.what());
                } catch (const std::exception& e) {
                    error = error_json("step_failed", steps[k].name + ": " + e.what());
                }
            }
            if (error.is_null() && !active->cancel) {
                note_lost(complete_job(control, job.lease,
                                       total > 0 ? outputs[total - 1] : nlohmann::json()));
                ++counters_.completed;
                log::debug("job completed", log_fields());
                return;
            }
        }

        // Undo the steps done, newest first.
        const bool any_done = std::find(states.begin(), states.end(), "done") != states.end();
        if (any_done && job.phase != "compensating")
            note_lost(begin_compensation(control, job.lease, error));
        for (int k = total - 1; k >= 0; --k) {
            if (states[k] != "done") continue;
            step_context ctx(control, step_conn, job, *active, stopping_, k, total, steps[k].name,
                             outputs, undo_checkpoints[k], true);
            try {
                ctx.progress("undo: " + steps[k].name);
                if (steps[k].compensate) steps[k].compensate(ctx);
                note_lost(ctx.commit_compensated());
                states[k] = "compensated";
            } catch (const job_interrupted&) {
                throw;
            } catch (const pqxx::broken_connection&) {
                throw;
            } catch (const retry_later& r) {
                if (job.lease.attempt < job.max_attempts) {
                    note_lost(retry_job(control, job.lease, error, r.delay));
                    ++counters_.retried;
                    return;
                }
                auto failed = error.is_null() ? job.error : error;
                if (!failed.is_object()) failed = error_json("failed", "the job failed");
                failed["compensation_error"] =
                    error_json("compensation_failed", steps[k].name + ": " + r.what());
                note_lost(fail_job(control, job.lease, failed));
                ++counters_.failed;
                return;
            } catch (const std::exception& e) {
                auto failed = error.is_null() ? job.error : error;
                if (!failed.is_object()) failed = error_json("failed", "the job failed");
                failed["compensation_error"] =
                    error_json("compensation_failed", steps[k].name + ": " + e.what());
                note_lost(fail_job(control, job.lease, failed));
                ++counters_.failed;
                log::warn("job compensation failed", log_fields());
                return;
            }
        }

        const auto& why = error.is_null() ? job.error : error;
        // Compensating since an earlier attempt: the stored error says whether it was cancelled.
        const bool cancelled =
            error.is_null() &&
            (job.phase == "compensating" ? code_of(why) == "cancelled" : active->cancel.load());
        if (cancelled) {
            note_lost(finish_cancelled(control, job.lease));
            ++counters_.cancelled;
            log::debug("job cancelled", log_fields());
        } else {
            note_lost(fail_job(control, job.lease,
                               why.is_null() ? error_json("failed", "the job failed") : why));
            ++counters_.failed;
            log::debug("job failed", log_fields());
        }
    } catch (const job_interrupted&) {
        ++counters_.handed_back;
        if (active->lost) {
            log::warn("job taken over by another worker", log_fields());
            return;
        }
        release_job(control, job.lease);
        log::info("job handed back", log_fields());
    }
}

}  // namespace vpsfleet::jobs
