#include "coordinator/fleet/notification_listener.hpp"

#include "common/log.hpp"

#include <pqxx/pqxx>

#include <memory>

namespace vpsfleet::fleet {

namespace {

class receiver : public pqxx::notification_receiver {
  public:
    receiver(pqxx::connection_base& conn, const std::string& channel,
             const notification_listener::callback& cb)
        : pqxx::notification_receiver(conn, channel), cb_(cb) {}
    void operator()(const std::string& payload, int) override { cb_(channel(), payload); }

  private:
    const notification_listener::callback& cb_;
};

}  // namespace

notification_listener::notification_listener(std::string conninfo,
                                             std::vector<std::string> channels, callback on_notify)
    : conninfo_(std::move(conninfo)),
      channels_(std::move(channels)),
      on_notify_(std::move(on_notify)) {}

notification_listener::~notification_listener() { stop(); }

void notification_listener::start() {
    thread_ = std::thread([this] { run(); });
}

void notification_listener::stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
}

void notification_listener::run() {
    bool reported = false;
    while (!stopping_) {
        try {
            pqxx::connection conn(conninfo_);
            std::vector<std::unique_ptr<receiver>> receivers;
            for (const auto& channel : channels_)
                receivers.push_back(std::make_unique<receiver>(conn, channel, on_notify_));
            if (reported) log::info("listening for fleet notifications again");
            reported = false;
            // Anything notified while we were away is picked up by the periodic sweep.
            on_notify_("", "");
            while (!stopping_) conn.await_notification(0, 250'000);
        } catch (const std::exception& e) {
            if (!reported)
                log::warn("fleet notifications lost, reconnecting", {{"error", e.what()}});
            reported = true;
            for (int i = 0; i < 4 && !stopping_; ++i)
                std::this_thread::sleep_for(std::chrono::milliseconds(250));
        }
    }
}

}  // namespace vpsfleet::fleet
