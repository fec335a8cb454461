#pragma once
// Samples the host through the hypervisor driver every interval (and soon after any lifecycle
// event) and publishes host and per-VM figures as Prometheus series. A hypervisor that cannot be
// reached shows as hypervisor_up 0 and is tried again on the next tick. The collector owns the
// driver and its worker pool; commands reach the hypervisor through hypervisor().
#include "agent/collector/usage_meter.hpp"
#include "agent/collector/vm_metrics.hpp"
#include "agent/config.hpp"
#include "agent/driver/driver.hpp"
#include "agent/driver/worker_pool.hpp"

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace vpsfleet::agent {

// The latest sample, for the link's hello and inventory.
struct host_snapshot {
    driver::host_facts facts;
    std::vector<driver::vm_status> domains;
};

class host_collector {
  public:
    // Builds the driver the configuration names (driver::make_driver).
    host_collector(boost::asio::io_context& io, prometheus::Registry& registry,
                   const agent_config& cfg);
    // With a driver of the caller's choosing.
    host_collector(boost::asio::io_context& io, prometheus::Registry& registry,
                   const agent_config& cfg, std::unique_ptr<driver::hypervisor> hypervisor);
    // With driver calls run on `shared_workers` instead of a pool of its own (the fleet
    // simulator); `shared_workers` must be stopped and joined before this collector is destroyed.
    host_collector(boost::asio::io_context& io, prometheus::Registry& registry,
                   const agent_config& cfg, std::unique_ptr<driver::hypervisor> hypervisor,
                   boost::asio::thread_pool& shared_workers);
    ~host_collector();

    void start();
    void stop();
    bool hypervisor_up() const { return up_; }
    // Where commands run their driver calls.
    driver::worker_pool& hypervisor() { return pool_; }
    // Takes a fresh sample now instead of at the next tick (after a command changed something).
    void refresh_soon();
    // Lifecycle events from the driver; the listener runs on the driver's event thread.
    void on_event(driver::event_handler listener);

    // Empty until the hypervisor has been sampled once.
    std::optional<host_snapshot> latest() const;
    // The latest usage sample for the coordinator; empty until statistics were read twice.
    std::optional<protocol::metrics_batch> latest_usage() const;

  private:
    host_collector(boost::asio::io_context& io, prometheus::Registry& registry,
                   const agent_config& cfg, std::unique_ptr<driver::hypervisor> hypervisor,
                   boost::asio::thread_pool* shared_workers);
    struct sample_result {
        host_snapshot snapshot;
        std::optional<driver::stats_sample> stats;  // a failure here does not hide the inventory
        std::string stats_error;
    };
    boost::asio::awaitable<void> loop();
    void publish(const sample_result& sample);

    boost::asio::io_context& io_;
    const agent_config& cfg_;
    boost::asio::steady_timer timer_;
    driver::worker_pool pool_;
    std::atomic<bool> up_{false};
    std::atomic<bool> stopping_{false};
    std::atomic<bool> refresh_{false};
    bool reported_down_ = false;  // touched only by loop()
    bool reported_stats_error_ = false;
    std::optional<std::pair<std::uint64_t, std::uint64_t>> last_cpu_;  // busy, idle; by loop()

    prometheus::Gauge& up_gauge_;
    prometheus::Gauge& cpus_;
    prometheus::Gauge& memory_;
    prometheus::Gauge& memory_free_;
    prometheus::Gauge& cpu_busy_;
    prometheus::Family<prometheus::Gauge>& pool_bytes_;
    prometheus::Family<prometheus::Gauge>& domains_;
    prometheus::Family<prometheus::Gauge>& info_;
    prometheus::Gauge* info_gauge_ = nullptr;
    std::string published_host_;
    vm_metrics vm_metrics_;
    usage_meter usage_meter_;   // by loop()
    mutable std::mutex mutex_;  // guards latest_, latest_usage_ and listener_
    std::optional<host_snapshot> latest_;
    std::optional<protocol::metrics_batch> latest_usage_;
    driver::event_handler listener_;
};

}  // namespace vpsfleet::agent
