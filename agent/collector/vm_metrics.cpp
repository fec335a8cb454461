#include "agent/collector/vm_metrics.hpp"

#include <set>

namespace vpsfleet::agent {

namespace {

prometheus::Family<prometheus::Counter>& counter(prometheus::Registry& r, const char* name,
                                                 const char* help) {
    return prometheus::BuildCounter().Name(name).Help(help).Register(r);
}

prometheus::Family<prometheus::Gauge>& gauge_family(prometheus::Registry& r, const char* name,
                                                    const char* help) {
    return prometheus::BuildGauge().Name(name).Help(help).Register(r);
}

}  // namespace

vm_metrics::vm_metrics(prometheus::Registry& r)
    : cpu_(counter(r, "vpsfleet_agent_vm_cpu_seconds_total",
                   "CPU time the VM has used, all vCPUs together")),
      disk_read_bytes_(counter(r, "vpsfleet_agent_vm_disk_read_bytes_total",
                               "Bytes the VM has read from its disks")),
      disk_write_bytes_(counter(r, "vpsfleet_agent_vm_disk_write_bytes_total",
                                "Bytes the VM has written to its disks")),
      disk_read_ops_(counter(r, "vpsfleet_agent_vm_disk_read_requests_total",
                             "Read requests the VM has made to its disks")),
      disk_write_ops_(counter(r, "vpsfleet_agent_vm_disk_write_requests_total",
                              "Write requests the VM has made to its disks")),
      net_rx_bytes_(counter(r, "vpsfleet_agent_vm_network_receive_bytes_total",
                            "Bytes the VM's interfaces have received")),
      net_tx_bytes_(counter(r, "vpsfleet_agent_vm_network_transmit_bytes_total",
                            "Bytes the VM's interfaces have sent")),
      net_rx_packets_(counter(r, "vpsfleet_agent_vm_network_receive_packets_total",
                              "Packets the VM's interfaces have received")),
      net_tx_packets_(counter(r, "vpsfleet_agent_vm_network_transmit_packets_total",
                              "Packets the VM's interfaces have sent")),
      memory_(gauge_family(r, "vpsfleet_agent_vm_memory_bytes",
                           "Memory the VM currently has (its balloon size)")),
      max_memory_(
          gauge_family(r, "vpsfleet_agent_vm_memory_max_bytes", "Memory the VM may grow to")),
      vcpus_(gauge_family(r, "vpsfleet_agent_vm_vcpus", "vCPUs the VM currently has")),
      state_(gauge_family(r, "vpsfleet_agent_vm_state",
                          "1 for the VM's current state (running, shutoff, paused, ...)")) {}

void vm_metrics::set_counter(series& s, prometheus::Family<prometheus::Counter>& family,
                             const labels& l, double value) {
    counter_series* c = nullptr;
    for (auto& existing : s.counters)
        if (existing.family == &family) c = &existing;
    if (!c) c = &s.counters.emplace_back(counter_series{&family, nullptr, 0});
    if (c->counter && value < c->value) {
        family.Remove(c->counter);
        c->counter = nullptr;
    }
    if (!c->counter) {
        c->counter = &family.Add(l);
        c->value = 0;
    }
    if (value > c->value) c->counter->Increment(value - c->value);
    c->value = value;
}

prometheus::Gauge& vm_metrics::gauge(series& s, prometheus::Family<prometheus::Gauge>& family,
                                     const labels& l) {
    for (auto& [f, g] : s.gauges)
        if (f == &family) return *g;
    auto& g = family.Add(l);
    s.gauges.emplace_back(&family, &g);
    return g;
}

void vm_metrics::remove(series& s) {
    for (auto& c : s.counters)
        if (c.counter) c.family->Remove(c.counter);
    for (auto& [family, g] : s.gauges) family->Remove(g);
    if (s.state_gauge) state_.Remove(s.state_gauge);
    s = series{};
}

void vm_metrics::publish(const std::vector<driver::vm_stats>& vms) {
    std::set<std::string> seen;
    for (const auto& vm : vms) {
        seen.insert(vm.uuid);
        auto& s = by_uuid_[vm.uuid];
        if (s.name != vm.name) {
            remove(s);  // renamed: its series carry the old name
            s.name = vm.name;
        }
        const labels l{{"uuid", vm.uuid}, {"name", vm.name}};
        set_counter(s, cpu_, l, static_cast<double>(vm.cpu_time_ns) / 1e9);
        set_counter(s, disk_read_bytes_, l, static_cast<double>(vm.disk_read_bytes));
        set_counter(s, disk_write_bytes_, l, static_cast<double>(vm.disk_write_bytes));
        set_counter(s, disk_read_ops_, l, static_cast<double>(vm.disk_read_ops));
        set_counter(s, disk_write_ops_, l, static_cast<double>(vm.disk_write_ops));
        set_counter(s, net_rx_bytes_, l, static_cast<double>(vm.net_rx_bytes));
        set_counter(s, net_tx_bytes_, l, static_cast<double>(vm.net_tx_bytes));
        set_counter(s, net_rx_packets_, l, static_cast<double>(vm.net_rx_packets));
        set_counter(s, net_tx_packets_, l, static_cast<double>(vm.net_tx_packets));
        gauge(s, memory_, l).Set(static_cast<double>(vm.memory_bytes));
        gauge(s, max_memory_, l).Set(static_cast<double>(vm.max_memory_bytes));
        gauge(s, vcpus_, l).Set(vm.vcpus);
        if (s.state != vm.state || !s.state_gauge) {
            if (s.state_gauge) state_.Remove(s.state_gauge);
            s.state_gauge =
                &state_.Add({{"uuid", vm.uuid}, {"name", vm.name}, {"state", vm.state}});
            s.state_gauge->Set(1);
            s.state = vm.state;
        }
    }
    for (auto it = by_uuid_.begin(); it != by_uuid_.end();) {
        if (seen.count(it->first)) {
            ++it;
        } else {
            remove(it->second);
            it = by_uuid_.erase(it);
        }
    }
}

}  // namespace vpsfleet::agent
