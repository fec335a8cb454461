#pragma once
// The running agent: the host collector and the /healthz and /metrics listener. The fleet link
// to the coordinator hangs off this object when it arrives.
#include "agent/collector/host_collector.hpp"
#include "agent/config.hpp"
#include "agent/link/link_client.hpp"
#include "common/http_server.hpp"
#include "common/metrics.hpp"
#include "common/router.hpp"

#include <memory>

namespace vpsfleet::agent {

class service {
  public:
    service(boost::asio::io_context& io, agent_config cfg);

    // Binds the metrics listener (logging the bound address) and starts sampling.
    void start();
    void stop();
    // The hypervisor answered the last sample: what systemd's READY=1 waits for.
    bool hypervisor_up() const { return collector_.hypervisor_up(); }

  private:
    boost::asio::io_context& io_;
    agent_config cfg_;
    prometheus::Registry registry_;
    metrics::http_metrics http_metrics_;
    host_collector collector_;
    http::router router_;
    std::shared_ptr<http::server> listener_;
    std::shared_ptr<link::link_client> link_;
};

}  // namespace vpsfleet::agent
