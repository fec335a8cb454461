#pragma once
// Samples the host through the hypervisor every interval and publishes the facts as Prometheus
// gauges. A lost hypervisor connection shows as hypervisor_up 0 and is reopened on the next tick.
#include "agent/config.hpp"
#include "agent/driver/libvirt/connection.hpp"
#include "common/offload.hpp"

#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace vpsfleet::agent {

// The latest sample, for the link's hello and inventory.
struct host_snapshot {
    libvirt::host_facts facts;
    std::vector<libvirt::domain_info> domains;
};

class host_collector {
  public:
    host_collector(boost::asio::io_context& io, prometheus::Registry& registry,
                   const agent_config& cfg);
    ~host_collector();

    void start();
    void stop();
    bool hypervisor_up() const { return up_; }
    // Runs work(libvirt::connection&) on the hypervisor thread, (re)connecting first. Commands go
    // through here so they share the collector's connection (and, on test:///, its state).
    // `work` must be a named object (see store::database::run for why).
    template <class F>
    auto with_hypervisor(F& work) {
        return offload(hypervisor_thread_, [this, work]() mutable { return work(connection()); });
    }

    // Empty until the hypervisor has been sampled once.
    std::optional<host_snapshot> latest() const;

  private:
    boost::asio::awaitable<void> loop();
    // Runs on the hypervisor thread: (re)opens the connection and reads the facts.
    host_snapshot sample();
    libvirt::connection& connection();  // on the hypervisor thread
    void publish(const libvirt::host_facts& facts);

    boost::asio::io_context& io_;
    const agent_config& cfg_;
    boost::asio::steady_timer timer_;
    boost::asio::thread_pool hypervisor_thread_{1};  // libvirt calls stay on one thread
    std::unique_ptr<libvirt::connection> conn_;      // touched only on hypervisor_thread_
    std::atomic<bool> up_{false};
    std::atomic<bool> stopping_{false};
    bool reported_down_ = false;  // touched only by loop()

    prometheus::Gauge& up_gauge_;
    prometheus::Gauge& cpus_;
    prometheus::Gauge& memory_;
    prometheus::Family<prometheus::Gauge>& domains_;
    prometheus::Family<prometheus::Gauge>& info_;
    prometheus::Gauge* info_gauge_ = nullptr;
    std::string published_host_;
    mutable std::mutex latest_mutex_;
    std::optional<host_snapshot> latest_;
};

}  // namespace vpsfleet::agent
