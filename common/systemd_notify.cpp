#include "common/systemd_notify.hpp"

#include "common/log.hpp"

#include <systemd/sd-daemon.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <cstdint>
#include <cstdlib>

namespace vpsfleet::systemd {

namespace asio = boost::asio;

namespace {

// How often readiness is looked at until it holds: well under any start timeout, and a few
// cheap atomic loads a second cost nothing.
constexpr std::chrono::milliseconds k_ready_poll{100};

}  // namespace

bool notify_enabled() {
    const char* socket = std::getenv("NOTIFY_SOCKET");
    return socket != nullptr && *socket != '\0';
}

bool notify(const std::string& state) { return sd_notify(0, state.c_str()) > 0; }

std::optional<std::chrono::microseconds> watchdog_interval() {
    std::uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
    return std::chrono::microseconds(usec);
}

supervisor::supervisor(asio::io_context& io, std::function<bool()> ready, std::string status)
    : strand_(asio::make_strand(io)),
      timer_(strand_),
      ready_(std::move(ready)),
      status_(std::move(status)) {}

void supervisor::start() {
    if (!notify_enabled()) return;
    watchdog_ = watchdog_interval();
    if (watchdog_) log::info("systemd watchdog enabled", {{"interval_us", watchdog_->count()}});
    asio::co_spawn(strand_, loop(), asio::detached);
}

void supervisor::stop() {
    if (!notify_enabled() || stopping_.exchange(true)) return;
    notify("STOPPING=1");
    asio::post(strand_, [this] { timer_.cancel(); });
}

asio::awaitable<void> supervisor::loop() {
    bool ready = false;
    while (!stopping_) {
        if (!ready && ready_()) {
            ready = true;
            notify("READY=1\nSTATUS=" + status_);
            log::info("told systemd the service is ready");
        }
        if (watchdog_) notify("WATCHDOG=1");
        if (ready && !watchdog_) co_return;
        std::chrono::microseconds wait = k_ready_poll;
        if (ready) wait = *watchdog_ / 2;
        if (watchdog_ && *watchdog_ / 2 < wait) wait = *watchdog_ / 2;
        timer_.expires_after(wait);
        boost::system::error_code ec;
        co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

}  // namespace vpsfleet::systemd
