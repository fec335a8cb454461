#include "common/daemon.hpp"

#include "common/log.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <mutex>
#include <thread>
#include <vector>

namespace vpsfleet::daemon {
namespace {

struct shutdown_state {
    std::mutex mutex;
    std::condition_variable cv;
    bool requested = false;
    bool finished = false;
    std::atomic<int> exit_code{exit_ok};
    std::function<void()> on_stop;
};

shutdown_state* g_state = nullptr;

void begin_shutdown(shutdown_state& state) {
    {
        std::lock_guard lock(state.mutex);
        if (state.requested) return;
        state.requested = true;
    }
    state.cv.notify_all();
    if (state.on_stop) state.on_stop();
}

}  // namespace

void request_exit(boost::asio::io_context& io, int code) {
    if (g_state == nullptr) return;
    g_state->exit_code = code;
    boost::asio::post(io, [] { begin_shutdown(*g_state); });
}

int run(boost::asio::io_context& io, const run_options& options, std::function<void()> on_stop) {
    std::signal(SIGPIPE, SIG_IGN);
    shutdown_state state;
    state.on_stop = std::move(on_stop);
    g_state = &state;

    boost::asio::signal_set signals(io, SIGTERM, SIGINT);
    signals.async_wait([&](const boost::system::error_code& ec, int signo) {
        if (ec) return;
        log::info("shutting down", {{"signal", signo == SIGTERM ? "SIGTERM" : "SIGINT"}});
        begin_shutdown(state);
    });

    // Stops the io_context if the components have not wound down within the grace period.
    std::thread watchdog([&] {
        std::unique_lock lock(state.mutex);
        state.cv.wait(lock, [&] { return state.requested || state.finished; });
        if (state.finished) return;
        if (!state.cv.wait_for(lock, options.grace, [&] { return state.finished; })) {
            log::warn("grace period over, stopping with work still in flight",
                      {{"grace_ms", options.grace.count()}});
            io.stop();
        }
    });

    // The signal set is the last piece of work once every component has stopped.
    std::atomic<bool> signals_cancelled{false};
    auto cancel_signals_when_requested = [&] {
        std::unique_lock lock(state.mutex);
        state.cv.wait(lock, [&] { return state.requested || state.finished; });
        lock.unlock();
        if (!signals_cancelled.exchange(true)) {
            boost::asio::post(io, [&] { signals.cancel(); });
        }
    };
    std::thread signal_closer(cancel_signals_when_requested);

    std::vector<std::thread> workers;
    for (unsigned i = 1; i < options.threads; ++i) workers.emplace_back([&] { io.run(); });
    io.run();
    for (auto& t : workers) t.join();

    {
        std::lock_guard lock(state.mutex);
        state.finished = true;
    }
    state.cv.notify_all();
    watchdog.join();
    signal_closer.join();
    g_state = nullptr;
    return state.exit_code;
}

}  // namespace vpsfleet::daemon
