#pragma once
// Talks to systemd for Type=notify units: READY=1 once the daemon can serve, WATCHDOG=1 while its
// event loop is alive (WatchdogSec=), STOPPING=1 on shutdown. Everything is a no-op when the
// process was not started with NOTIFY_SOCKET set, so tests and the local fleet run unchanged.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace vpsfleet::systemd {

// True when systemd (or a test standing in for it) gave this process a notification socket.
bool notify_enabled();
// Sends newline-separated state assignments ("READY=1\nSTATUS=..."); false when nothing was sent.
bool notify(const std::string& state);
// How often systemd expects WATCHDOG=1 from this process, when the unit sets WatchdogSec=.
std::optional<std::chrono::microseconds> watchdog_interval();

// Polls `ready` on a timer of the daemon's own io_context and sends READY=1 (with `status` as
// STATUS=) the first time it holds; then pings the watchdog at half its interval from the same
// timer, so a wedged event loop stops the pings and systemd restarts the unit.
class supervisor {
  public:
    supervisor(boost::asio::io_context& io, std::function<bool()> ready, std::string status);

    void start();
    // Sends STOPPING=1 and ends the timer; call from the daemon's stop handler.
    void stop();

  private:
    boost::asio::awaitable<void> loop();

    boost::asio::strand<boost::asio::io_context::executor_type> strand_;
    boost::asio::steady_timer timer_;  // used only on strand_
    std::function<bool()> ready_;
    std::string status_;
    std::optional<std::chrono::microseconds> watchdog_;
    std::atomic<bool> stopping_{false};
};

}  // namespace vpsfleet::systemd
