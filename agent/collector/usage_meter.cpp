#include "agent/collector/usage_meter.hpp"

#include <algorithm>
#include <chrono>

namespace vpsfleet::agent {

namespace {

double percent(double part, double whole) {
    if (whole <= 0) return 0;
    return std::clamp(100.0 * part / whole, 0.0, 100.0);
}

}  // namespace

std::optional<protocol::metrics_batch> usage_meter::next(const driver::stats_sample& sample) {
    using namespace std::chrono;
    const std::int64_t at_ns = duration_cast<nanoseconds>(sample.at.time_since_epoch()).count();
    const bool first = !last_at_ns_;
    last_at_ns_ = at_ns;

    protocol::metrics_batch out;
    out.at = duration_cast<milliseconds>(sample.at.time_since_epoch()).count();
    const auto& host = sample.host;
    out.host.memory_total_bytes = host.memory_total_bytes;
    out.host.memory_used_bytes =
        host.memory_total_bytes - std::min(host.memory_free_bytes, host.memory_total_bytes);
    if (host.cpu_busy_ns && host.cpu_idle_ns) {
        if (host_cpu_ && *host.cpu_busy_ns >= host_cpu_->first &&
            *host.cpu_idle_ns >= host_cpu_->second) {
            const auto busy = static_cast<double>(*host.cpu_busy_ns - host_cpu_->first);
            const auto idle = static_cast<double>(*host.cpu_idle_ns - host_cpu_->second);
            out.host.cpu_percent = percent(busy, busy + idle);
        }
        host_cpu_ = std::pair(*host.cpu_busy_ns, *host.cpu_idle_ns);
    }

    std::map<std::string, cpu_mark> seen;
    for (const auto& vm : sample.vms) {
        const cpu_mark now{at_ns, vm.cpu_time_ns};
        seen[vm.uuid] = now;
        const auto before = vm_cpu_.find(vm.uuid);
        if (before == vm_cpu_.end()) continue;
        const auto& then = before->second;
        const double elapsed = static_cast<double>(now.at_ns - then.at_ns);
        // A restarted domain counts from zero again: no figure for this interval.
        if (elapsed <= 0 || now.cpu_ns < then.cpu_ns) continue;
        out.vms.push_back({vm.uuid,
                           percent(static_cast<double>(now.cpu_ns - then.cpu_ns),
                                   elapsed * std::max<std::uint32_t>(vm.vcpus, 1)),
                           vm.memory_bytes, vm.disk_read_bytes, vm.disk_write_bytes,
                           vm.net_rx_bytes, vm.net_tx_bytes});
    }
    vm_cpu_ = std::move(seen);  // domains that went away are forgotten
    if (first) return std::nullopt;
    return out;
}

}  // namespace vpsfleet::agent
