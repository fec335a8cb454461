#pragma once
// Runs the billing sweep (expiry_sweep.hpp: prepaid expiry when billing.prepaid, balance alerts
// and stopping suspended accounts' VMs always), after the accounts' auto-recharges when a payment
// provider is configured (billing/autorecharge.hpp), every billing.sweep_interval once the schema
// is ready, and counts what it did in vpsfleet_coordinator_billing_sweep_total{step}.
#include "coordinator/billing/payment_provider.hpp"
#include "coordinator/config.hpp"
#include "coordinator/instances/expiry_sweep.hpp"
#include "coordinator/store/database.hpp"

#include <prometheus/counter.h>
#include <prometheus/registry.h>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>

namespace vpsfleet::instances {

class expiry_runner {
  public:
    expiry_runner(boost::asio::io_context& io, store::database& db,
                  const coordinator::billing_config& cfg, std::string public_url,
                  prometheus::Registry& registry, billing::payment_provider* payments = nullptr);

    void start();
    void stop();

  private:
    boost::asio::awaitable<void> loop();

    store::database& db_;
    billing::payment_provider* payments_;
    std::chrono::milliseconds interval_;
    expiry_settings settings_;
    boost::asio::steady_timer timer_;
    prometheus::Family<prometheus::Counter>& steps_;
    std::atomic<bool> stopping_{false};
};

}  // namespace vpsfleet::instances
