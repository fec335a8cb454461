#pragma once
// libvirt's default event loop, run on a thread of its own while any driver needs it. libvirt keeps
// one such loop per process, so drivers share it: acquire() before opening a connection.
#include <memory>

namespace vpsfleet::agent::libvirt {

class event_loop {
  public:
    static std::shared_ptr<event_loop> acquire();
    ~event_loop();
    event_loop(const event_loop&) = delete;
    event_loop& operator=(const event_loop&) = delete;

  private:
    event_loop();
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace vpsfleet::agent::libvirt
