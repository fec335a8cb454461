#pragma once
// Turns the hypervisor's cumulative statistics into the usage samples the agent pushes to the
// coordinator (`metrics` messages): CPU as a percentage over the time since the previous sample
// (of the host's CPUs, of each VM's vCPUs), memory in use, and the disk and network counters as
// they are. A VM appears from its second sample on, once it has a CPU figure.
#include "agent/driver/driver.hpp"
#include "protocol/messages.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace vpsfleet::agent {

class usage_meter {
  public:
    // nullopt for the first sample (nothing to measure CPU against yet).
    std::optional<protocol::metrics_batch> next(const driver::stats_sample& sample);

  private:
    struct cpu_mark {
        std::int64_t at_ns = 0;
        std::uint64_t cpu_ns = 0;
    };
    std::optional<std::int64_t> last_at_ns_;
    std::optional<std::pair<std::uint64_t, std::uint64_t>> host_cpu_;  // busy, idle
    std::map<std::string, cpu_mark> vm_cpu_;                           // by uuid
};

}  // namespace vpsfleet::agent
