#pragma once
// A dedicated PostgreSQL connection LISTENing on the command channels, on a thread of its own
// (libpqxx blocks). It survives PostgreSQL restarts by reconnecting, and hands each notification
// to a callback, which must not block (post to an io_context).
#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace vpsfleet::fleet {

class notification_listener {
  public:
    using callback = std::function<void(const std::string& channel, const std::string& payload)>;

    notification_listener(std::string conninfo, std::vector<std::string> channels,
                          callback on_notify);
    ~notification_listener();

    void start();
    void stop();

  private:
    void run();

    std::string conninfo_;
    std::vector<std::string> channels_;
    callback on_notify_;
    std::atomic<bool> stopping_{false};
    std::thread thread_;
};

}  // namespace vpsfleet::fleet
