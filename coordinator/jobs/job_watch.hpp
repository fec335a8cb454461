#pragma once
// Following jobs live: one LISTEN connection on vpsfleet_job_events per coordinator, fanned out to
// subscribers. A notification only says which job changed; the watch reads that job's new rows in
// job_events, so a subscriber to one job gets every event after the sequence number it gave, in
// order, once, including those recorded before it subscribed and those that happened while the
// listening connection was down (it catches up when it is back). Used by the admin job feedback
// WebSocket, the customer job endpoints' long polling and anything else that waits for a job.
#include "coordinator/jobs/job_store.hpp"

#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace vpsfleet::fleet {
class notification_listener;
}

namespace vpsfleet::jobs {

class job_watch {
  public:
    // Events in order, in batches. Called on the watch's own thread: must not block (post to an
    // io_context, signal a waiter).
    using callback = std::function<void(const std::vector<job_event>&)>;

    explicit job_watch(std::string conninfo);
    ~job_watch();
    job_watch(const job_watch&) = delete;
    job_watch& operator=(const job_watch&) = delete;

    void start();
    void stop();
    // Whether the LISTEN connection is up (a global feed misses what happens before).
    bool listening() const { return listening_; }

    // Ends the subscription when destroyed or reset; no callback runs after that returns.
    class subscription {
      public:
        subscription() = default;
        subscription(subscription&& other) noexcept;
        subscription& operator=(subscription&& other) noexcept;
        ~subscription() { reset(); }
        void reset();

      private:
        friend class job_watch;
        subscription(job_watch* watch, std::uint64_t id) : watch_(watch), id_(id) {}
        job_watch* watch_ = nullptr;
        std::uint64_t id_ = 0;
    };

    // Every event of one job after `after_seq` (0: all of them).
    [[nodiscard]] subscription follow(std::int64_t job_id, std::int64_t after_seq, callback cb);
    // Events of every job, for a global feed: every event recorded since the subscription began
    // (by the database's clock, give or take a couple of seconds of skew), so a job created while
    // watching is seen whole, from its `queued` event.
    [[nodiscard]] subscription follow_all(callback cb);

  private:
    struct subscriber {
        std::int64_t job_id = 0;  // 0: every job
        std::int64_t after = 0;
        callback cb;
        time_point since{};  // every job: events recorded from then on
    };

    void unsubscribe(std::uint64_t id);
    void on_notification(const std::string& payload);
    void run();
    void deliver(pqxx::connection& conn, std::int64_t job_id);

    std::string conninfo_;
    std::mutex mutex_;
    std::condition_variable changed_;
    std::map<std::uint64_t, std::shared_ptr<subscriber>> subscribers_;
    std::uint64_t next_id_ = 1;
    std::size_t global_subscribers_ = 0;
    std::set<std::int64_t> dirty_;
    bool all_dirty_ = false;
    bool stopping_ = false;
    std::atomic<bool> listening_{false};
    // Held while callbacks run, so unsubscribing waits for a callback in flight. Recursive: a
    // callback may end its own subscription.
    std::recursive_mutex delivering_;
    // For the global feed: the last event delivered per job (dropped when the job ends).
    std::map<std::int64_t, std::int64_t> global_seen_;

    std::unique_ptr<fleet::notification_listener> listener_;
    std::thread reader_;
};

// Waits (blocking; for worker threads and tests) until job `job_id` has events after `after_seq`
// or `timeout` passes; returns them (empty on timeout).
std::vector<job_event> wait_for_events(job_watch& watch, std::int64_t job_id,
                                       std::int64_t after_seq, std::chrono::milliseconds timeout);

// The same for coroutines (HTTP long polling): resumes on the caller's executor, which must not
// run this coroutine on several threads at once (a strand or a single-threaded io_context).
boost::asio::awaitable<std::vector<job_event>> next_events(job_watch& watch, std::int64_t job_id,
                                                           std::int64_t after_seq,
                                                           std::chrono::milliseconds timeout);

}  // namespace vpsfleet::jobs
