#pragma once
// Per-VM Prometheus series, labelled by VM uuid and name, following the libvirt exporters: CPU
// seconds, memory, disk and network counters, and the VM's state. Series of VMs that disappear are
// removed; a counter that went backwards (the VM restarted) starts a new series, which Prometheus
// reads as a counter reset.
#include "agent/driver/driver.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <map>
#include <string>
#include <vector>

namespace vpsfleet::agent {

class vm_metrics {
  public:
    explicit vm_metrics(prometheus::Registry& registry);
    // Not thread-safe: call from one thread (the collector's loop).
    void publish(const std::vector<driver::vm_stats>& vms);

  private:
    using labels = std::map<std::string, std::string>;
    struct counter_series {
        prometheus::Family<prometheus::Counter>* family = nullptr;
        prometheus::Counter* counter = nullptr;
        double value = 0;
    };
    struct series {
        std::string name;
        std::string state;
        std::vector<counter_series> counters;
        std::vector<std::pair<prometheus::Family<prometheus::Gauge>*, prometheus::Gauge*>> gauges;
        prometheus::Gauge* state_gauge = nullptr;
    };
    void set_counter(series& s, prometheus::Family<prometheus::Counter>& family, const labels& l,
                     double value);
    prometheus::Gauge& gauge(series& s, prometheus::Family<prometheus::Gauge>& family,
                             const labels& l);
    void remove(series& s);

    prometheus::Family<prometheus::Counter>& cpu_;
    prometheus::Family<prometheus::Counter>& disk_read_bytes_;
    prometheus::Family<prometheus::Counter>& disk_write_bytes_;
    prometheus::Family<prometheus::Counter>& disk_read_ops_;
    prometheus::Family<prometheus::Counter>& disk_write_ops_;
    prometheus::Family<prometheus::Counter>& net_rx_bytes_;
    prometheus::Family<prometheus::Counter>& net_tx_bytes_;
    prometheus::Family<prometheus::Counter>& net_rx_packets_;
    prometheus::Family<prometheus::Counter>& net_tx_packets_;
    prometheus::Family<prometheus::Gauge>& memory_;
    prometheus::Family<prometheus::Gauge>& max_memory_;
    prometheus::Family<prometheus::Gauge>& vcpus_;
    prometheus::Family<prometheus::Gauge>& state_;
    std::map<std::string, series> by_uuid_;
};

}  // namespace vpsfleet::agent
