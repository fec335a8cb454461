// Custom pricing arithmetic: pro-rata GB costs rounded half up once per component, the total the
// sum of the parts, sizes outside the model refused with the field at fault, overflow refused.
#include "coordinator/billing/custom_pricing.hpp"

#include <gtest/gtest.h>

#include <limits>

using namespace vpsfleet::billing;

namespace {

constexpr std::int64_t k_gib = 1LL << 30;

custom_model model() {
    custom_model m;
    m.currency = "EUR";
    m.cpu_cost = 150;    // 1.50 EUR per core
    m.memory_cost = 75;  // 0.75 EUR per GB
    m.ip4_cost = 200;
    m.ip6_cost = 1;
    m.min_cpu = 1;
    m.max_cpu = 8;
    m.min_memory = k_gib / 2;
    m.max_memory = 32 * k_gib;
    m.disks = {{"ssd", "pcie", 9, 10 * k_gib, 500 * k_gib},
               {"hdd", "sata", 2, k_gib, 4000 * k_gib}};
    return m;
}

custom_config config(std::int64_t cpu, std::int64_t memory, std::int64_t disk) {
    return {cpu, memory, disk, "ssd", "pcie", 1, 1};
}

}  // namespace

TEST(custom_pricing, per_gb_cost_is_pro_rata_by_the_byte_rounded_half_up) {
    EXPECT_EQ(per_gb_cost(k_gib, 300), 300);
    EXPECT_EQ(per_gb_cost(3 * k_gib / 2, 3), 5);  // 4.5 rounds up
    EXPECT_EQ(per_gb_cost(k_gib / 2 - 1, 1), 0);  // just under half rounds down
    EXPECT_EQ(per_gb_cost(k_gib / 2, 1), 1);      // exactly half rounds up
    EXPECT_EQ(per_gb_cost(0, 1'000'000), 0);
    EXPECT_EQ(per_gb_cost(std::numeric_limits<std::int64_t>::max(), 1'000'000'000'000),
              std::nullopt);
    EXPECT_EQ(per_gb_cost(-1, 1), std::nullopt);
}

TEST(custom_pricing, monthly_price_sums_the_rounded_components) {
    // 3 cores: 3 * 150 = 450. 1.5 GB memory: 1.5 * 75 = 112.5 -> 113.
    // 10.25 GB ssd/pcie: 10.25 * 9 = 92.25 -> 92. One IPv4 200, two IPv6 2.
    auto c = config(3, 3 * k_gib / 2, 41 * k_gib / 4);
    c.ip6_count = 2;
    const auto price = monthly_price(model(), c);
    ASSERT_TRUE(price);
    EXPECT_EQ(price->cpu_cost, 450);
    EXPECT_EQ(price->memory_cost, 113);
    EXPECT_EQ(price->disk_cost, 92);
    EXPECT_EQ(price->ip4_cost, 200);
    EXPECT_EQ(price->ip6_cost, 2);
    EXPECT_EQ(price->total_monthly_cost, 450 + 113 + 92 + 200 + 2);
}

TEST(custom_pricing, check_fit_names_the_field_outside_the_model) {
    const auto m = model();
    EXPECT_FALSE(check_fit(m, config(1, k_gib / 2, 10 * k_gib)));
    EXPECT_FALSE(check_fit(m, config(8, 32 * k_gib, 500 * k_gib)));
    EXPECT_EQ(check_fit(m, config(9, k_gib, 10 * k_gib))->field, "cpu");
    EXPECT_EQ(check_fit(m, config(0, k_gib, 10 * k_gib))->field, "cpu");
    EXPECT_EQ(check_fit(m, config(1, k_gib / 2 - 1, 10 * k_gib))->field, "memory");
    EXPECT_EQ(check_fit(m, config(1, k_gib, 10 * k_gib - 1))->field, "disk_size");
    auto nvme_on_scsi = config(1, k_gib, 10 * k_gib);
    nvme_on_scsi.disk_interface = "scsi";
    EXPECT_EQ(check_fit(m, nvme_on_scsi)->field, "disk_type");
    EXPECT_FALSE(monthly_price(m, nvme_on_scsi));
}

TEST(custom_pricing, absurd_amounts_are_refused_not_wrapped) {
    auto m = model();
    m.ip4_cost = 1'000'000'000'000;
    auto c = config(1, k_gib, 10 * k_gib);
    c.ip4_count = 10'000'000;  // 1e19 > 2^63
    EXPECT_FALSE(monthly_price(m, c));
}
