#pragma once
// The coordinator's fleet link as a whole: the listener, the sessions it holds and the liveness
// loop that flushes "last seen" times, moves hosts whose lease ran out, and applies revocations
// and disabled hosts to live links, and the loop that reconciles the hosts it holds.
#include "coordinator/fleet/fleet_context.hpp"
#include "coordinator/fleet/fleet_listener.hpp"
#include "coordinator/fleet/notification_listener.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

namespace vpsfleet::fleet {

class fleet_service {
  public:
    fleet_service(boost::asio::io_context& io, const coordinator::fleet_config& cfg,
                  store::database& db, prometheus::Registry& registry);

    void start();
    void stop();
    const fleet_ca& ca() const { return ctx_.ca; }

  private:
    boost::asio::awaitable<void> liveness_loop();
    // Reconciles the hosts whose links this coordinator holds, every fleet.reconcile_interval.
    boost::asio::awaitable<void> reconcile_loop();
    // Writes the buffered usage samples every fleet.samples_flush and prunes old ones.
    boost::asio::awaitable<void> samples_loop();

    boost::asio::io_context& io_;
    fleet_metrics metrics_;
    fleet_context ctx_;
    std::shared_ptr<fleet_listener> listener_;
    notification_listener notifications_;
    boost::asio::steady_timer timer_;
    boost::asio::steady_timer reconcile_timer_;
    boost::asio::steady_timer samples_timer_;
    bool stopping_ = false;
};

// "hostname:pid:random", unique per coordinator process.
std::string make_instance_id();

}  // namespace vpsfleet::fleet
