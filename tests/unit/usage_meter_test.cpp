// What the agent pushes to the coordinator from the hypervisor's cumulative statistics: CPU as
// a share of the time since the last sample, memory in use, counters as they are.
#include "agent/collector/usage_meter.hpp"

#include <gtest/gtest.h>

using namespace std::chrono;
using vpsfleet::agent::usage_meter;
namespace driver = vpsfleet::agent::driver;

namespace {

constexpr std::uint64_t k_s = 1'000'000'000;  // nanoseconds in a second

driver::vm_stats vm(const std::string& uuid, std::uint32_t vcpus, std::uint64_t cpu_ns) {
    driver::vm_stats v;
    v.uuid = uuid;
    v.vcpus = vcpus;
    v.cpu_time_ns = cpu_ns;
    v.memory_bytes = 512 << 20;
    v.disk_read_bytes = 1000;
    v.net_tx_bytes = 7;
    return v;
}

driver::stats_sample sample(int second, std::uint64_t busy_ns, std::uint64_t idle_ns,
                            std::vector<driver::vm_stats> vms) {
    driver::stats_sample s;
    s.at = system_clock::time_point(seconds(1'795'000'000 + second));
    s.host.cpu_busy_ns = busy_ns;
    s.host.cpu_idle_ns = idle_ns;
    s.host.memory_total_bytes = 16ULL << 30;
    s.host.memory_free_bytes = 4ULL << 30;
    s.vms = std::move(vms);
    return s;
}

}  // namespace

TEST(usage_meter, cpu_is_measured_between_two_samples_per_vcpu) {
    usage_meter meter;
    EXPECT_FALSE(meter.next(sample(0, 0, 0, {vm("a", 2, 0)}))) << "nothing to measure against";
    // 10 s later: the host was busy 1/4 of the time; VM a used 5 of its 2 x 10 vCPU-seconds.
    const auto batch = meter.next(sample(10, 5 * k_s, 15 * k_s, {vm("a", 2, 5 * k_s)}));
    ASSERT_TRUE(batch);
    EXPECT_EQ(batch->at, 1'795'000'010'000);
    EXPECT_DOUBLE_EQ(batch->host.cpu_percent, 25.0);
    EXPECT_EQ(batch->host.memory_used_bytes, 12ULL << 30);
    EXPECT_EQ(batch->host.memory_total_bytes, 16ULL << 30);
    ASSERT_EQ(batch->vms.size(), 1u);
    EXPECT_DOUBLE_EQ(batch->vms[0].cpu_percent, 25.0);
    EXPECT_EQ(batch->vms[0].memory_used_bytes, 512u << 20);
    EXPECT_EQ(batch->vms[0].disk_read_bytes, 1000u);
    EXPECT_EQ(batch->vms[0].net_tx_bytes, 7u);
}

TEST(usage_meter, new_and_restarted_vms_wait_a_sample_and_busy_ones_cap_at_100) {
    usage_meter meter;
    meter.next(sample(0, 0, 0, {vm("a", 1, 50 * k_s), vm("b", 1, 0)}));
    // a restarted (its CPU time went back), b used more than its vCPU (clock skew), c is new.
    const auto batch =
        meter.next(sample(10, k_s, k_s, {vm("a", 1, k_s), vm("b", 1, 30 * k_s), vm("c", 1, 0)}));
    ASSERT_TRUE(batch);
    ASSERT_EQ(batch->vms.size(), 1u);
    EXPECT_EQ(batch->vms[0].uuid, "b");
    EXPECT_DOUBLE_EQ(batch->vms[0].cpu_percent, 100.0);
    // Next time a and c have figures again.
    const auto later =
        meter.next(sample(20, 2 * k_s, 2 * k_s, {vm("a", 1, 2 * k_s), vm("c", 1, k_s)}));
    ASSERT_TRUE(later);
    ASSERT_EQ(later->vms.size(), 2u);
    EXPECT_DOUBLE_EQ(later->vms[0].cpu_percent, 10.0);
    EXPECT_DOUBLE_EQ(later->vms[1].cpu_percent, 10.0);
}
