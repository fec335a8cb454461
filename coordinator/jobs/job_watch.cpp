#include "coordinator/jobs/job_watch.hpp"

#include "common/log.hpp"
#include "coordinator/fleet/notification_listener.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <limits>

namespace vpsfleet::jobs {

namespace asio = boost::asio;

job_watch::job_watch(std::string conninfo) : conninfo_(std::move(conninfo)) {}

job_watch::~job_watch() { stop(); }

void job_watch::start() {
    listener_ = std::make_unique<fleet::notification_listener>(
        conninfo_, std::vector<std::string>{k_job_events_channel},
        [this](const std::string&, const std::string& payload) { on_notification(payload); });
    listener_->start();
    reader_ = std::thread([this] { run(); });
}

void job_watch::stop() {
    if (listener_) listener_->stop();
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    changed_.notify_all();
    if (reader_.joinable()) reader_.join();
    listener_.reset();
}

job_watch::subscription::subscription(subscription&& other) noexcept
    : watch_(other.watch_), id_(other.id_) {
    other.watch_ = nullptr;
}

job_watch::subscription& job_watch::subscription::operator=(subscription&& other) noexcept {
    if (this != &other) {
        reset();
        watch_ = other.watch_;
        id_ = other.id_;
        other.watch_ = nullptr;
    }
    return *this;
}

void job_watch::subscription::reset() {
    if (watch_ != nullptr) watch_->unsubscribe(id_);
    watch_ = nullptr;
}

job_watch::subscription job_watch::follow(std::int64_t job_id, std::int64_t after_seq,
                                          callback cb) {
    std::uint64_t id = 0;
    {
        std::lock_guard lock(mutex_);
        id = next_id_++;
        subscribers_[id] =
            std::make_shared<subscriber>(subscriber{job_id, after_seq, std::move(cb)});
        // Catch up with what was recorded before now.
        dirty_.insert(job_id);
    }
    changed_.notify_all();
    return subscription(this, id);
}

job_watch::subscription job_watch::follow_all(callback cb) {
    std::lock_guard lock(mutex_);
    const auto id = next_id_++;
    // The margin covers clock skew between this host and the database's.
    const auto since = std::chrono::system_clock::now() - std::chrono::seconds(2);
    subscribers_[id] = std::make_shared<subscriber>(subscriber{0, 0, std::move(cb), since});
    ++global_subscribers_;
    return subscription(this, id);
}

void job_watch::unsubscribe(std::uint64_t id) {
    std::lock_guard delivering(delivering_);
    std::lock_guard lock(mutex_);
    auto it = subscribers_.find(id);
    if (it == subscribers_.end()) return;
    if (it->second->job_id == 0) --global_subscribers_;
    it->second->cb = nullptr;
    subscribers_.erase(it);
}

void job_watch::on_notification(const std::string& payload) {
    {
        std::lock_guard lock(mutex_);
        if (payload.empty()) {
            // (Re)connected: whatever happened while nobody listened is read now.
            all_dirty_ = true;
            listening_ = true;
        } else {
            std::int64_t id = 0;
            try {
                id = std::stoll(payload);
            } catch (const std::exception&) {
                return;
            }
            const bool wanted = global_subscribers_ > 0 ||
                                std::any_of(subscribers_.begin(), subscribers_.end(),
                                            [&](const auto& s) { return s.second->job_id == id; });
            if (!wanted) return;
            dirty_.insert(id);
        }
    }
    changed_.notify_all();
}

void job_watch::run() {
    std::unique_ptr<pqxx::connection> conn;
    bool reported = false;
    for (;;) {
        std::set<std::int64_t> work;
        {
            std::unique_lock lock(mutex_);
            changed_.wait(lock, [&] { return stopping_ || all_dirty_ || !dirty_.empty(); });
            if (stopping_) return;
            if (all_dirty_) {
                for (const auto& [id, s] : subscribers_)
                    if (s->job_id != 0) dirty_.insert(s->job_id);
                all_dirty_ = false;
            }
            work.swap(dirty_);
        }
        try {
            if (!conn || !conn->is_open()) conn = std::make_unique<pqxx::connection>(conninfo_);
            for (auto id : work) deliver(*conn, id);
            reported = false;
        } catch (const std::exception& e) {
            if (!reported) log::warn("job watch cannot read events", {{"error", e.what()}});
            reported = true;
            conn.reset();
            std::unique_lock lock(mutex_);
            dirty_.insert(work.begin(), work.end());
            changed_.wait_for(lock, std::chrono::milliseconds(250), [&] { return stopping_; });
        }
    }
}

void job_watch::deliver(pqxx::connection& conn, std::int64_t job_id) {
    std::vector<std::shared_ptr<subscriber>> targets;
    std::int64_t from = std::numeric_limits<std::int64_t>::max();
    bool global = false;
    {
        std::lock_guard lock(mutex_);
        for (const auto& [id, s] : subscribers_) {
            if (s->job_id == job_id) {
                targets.push_back(s);
                from = std::min(from, s->after);
            } else if (s->job_id == 0) {
                targets.push_back(s);
                global = true;
            }
        }
    }
    if (!global) global_seen_.clear();
    if (targets.empty()) return;
    // A job the global feed has not seen yet is read whole; each global subscriber then takes
    // the events recorded since it subscribed.
    std::int64_t global_after = 0;
    bool first_seen = false;
    if (global) {
        if (auto it = global_seen_.find(job_id); it != global_seen_.end()) {
            global_after = it->second;
        } else {
            first_seen = true;
        }
        from = std::min(from, global_after);
    }
    const auto events = events_after(conn, job_id, from);
    if (events.empty()) return;
    std::lock_guard delivering(delivering_);
    for (const auto& t : targets) {
        const bool is_global = t->job_id == 0;
        const auto after = is_global ? global_after : t->after;
        std::vector<job_event> batch;
        for (const auto& ev : events) {
            if (ev.seq > after && !(is_global && first_seen && ev.at < t->since))
                batch.push_back(ev);
        }
        if (batch.empty()) continue;
        if (!is_global) t->after = batch.back().seq;
        if (!t->cb) continue;  // unsubscribed by an earlier callback
        try {
            t->cb(batch);
        } catch (const std::exception& e) {
            log::warn("job watch callback failed", {{"error", e.what()}});
        }
    }
    if (global) {
        if (is_final_event(events.back().type))
            global_seen_.erase(job_id);
        else
            global_seen_[job_id] = events.back().seq;
    }
}

std::vector<job_event> wait_for_events(job_watch& watch, std::int64_t job_id,
                                       std::int64_t after_seq, std::chrono::milliseconds timeout) {
    struct waiter {
        std::mutex mutex;
        std::condition_variable arrived;
        std::vector<job_event> events;
    };
    auto w = std::make_shared<waiter>();
    auto sub = watch.follow(job_id, after_seq, [w](const std::vector<job_event>& batch) {
        {
            std::lock_guard lock(w->mutex);
            w->events.insert(w->events.end(), batch.begin(), batch.end());
        }
        w->arrived.notify_all();
    });
    std::vector<job_event> out;
    {
        std::unique_lock lock(w->mutex);
        w->arrived.wait_for(lock, timeout, [&] { return !w->events.empty(); });
        out = std::move(w->events);
        w->events.clear();
    }
    return out;
}

asio::awaitable<std::vector<job_event>> next_events(job_watch& watch, std::int64_t job_id,
                                                    std::int64_t after_seq,
                                                    std::chrono::milliseconds timeout) {
    struct waiter {
        explicit waiter(asio::any_io_executor ex) : timer(std::move(ex)) {}
        asio::steady_timer timer;
        std::mutex mutex;
        std::vector<job_event> events;
        bool signalled = false;
    };
    auto executor = co_await asio::this_coro::executor;
    auto w = std::make_shared<waiter>(executor);
    w->timer.expires_after(timeout);
    job_watch::callback on_event = [w](const std::vector<job_event>& batch) {
        {
            std::lock_guard lock(w->mutex);
            w->events.insert(w->events.end(), batch.begin(), batch.end());
            if (w->signalled) return;
            w->signalled = true;
        }
        // Expiring the timer now also ends a wait that has not started yet.
        asio::post(w->timer.get_executor(),
                   [w] { w->timer.expires_after(std::chrono::milliseconds(0)); });
    };
    auto sub = watch.follow(job_id, after_seq, std::move(on_event));
    boost::system::error_code ec;
    co_await w->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    sub.reset();
    std::lock_guard lock(w->mutex);
    co_return std::move(w->events);
}

}  // namespace vpsfleet::jobs
