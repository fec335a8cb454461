#pragma once
// What a VM sized to order costs per month under a custom pricing model (LNVPS custom pricing),
// and whether the size is one the model offers. Integer minor units of the model's currency only.
//
// cpu_cost is per core, ip4_cost/ip6_cost per address; memory_cost and a disk's cost are per GB
// where a GB is 2^30 bytes (the unit plans' disk_gb is in). Memory and disk are pro rata by the
// byte: bytes * cost / 2^30, rounded half up once per component (1.5 GB at 3 -> 4.5 -> 5). The
// total is the sum of the rounded components, so it always equals what the parts show.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vpsfleet::billing {

inline constexpr std::int64_t k_bytes_per_gb = 1LL << 30;

struct custom_disk_rate {
    std::string kind;       // hdd, ssd
    std::string interface;  // sata, scsi, pcie
    std::int64_t cost = 0;  // per GB per month
    std::int64_t min_disk_size = 0;
    std::int64_t max_disk_size = 0;
};

struct custom_model {
    std::string currency;
    std::int64_t cpu_cost = 0;
    std::int64_t memory_cost = 0;
    std::int64_t ip4_cost = 0;
    std::int64_t ip6_cost = 0;
    std::int64_t min_cpu = 0;
    std::int64_t max_cpu = 0;
    std::int64_t min_memory = 0;
    std::int64_t max_memory = 0;
    std::vector<custom_disk_rate> disks;
};

struct custom_config {
    std::int64_t cpu = 0;
    std::int64_t memory = 0;     // bytes
    std::int64_t disk_size = 0;  // bytes
    std::string disk_type;
    std::string disk_interface;
    std::int64_t ip4_count = 1;
    std::int64_t ip6_count = 1;
};

struct custom_price {
    std::int64_t cpu_cost = 0;
    std::int64_t memory_cost = 0;
    std::int64_t disk_cost = 0;
    std::int64_t ip4_cost = 0;
    std::int64_t ip6_cost = 0;
    std::int64_t total_monthly_cost = 0;
};

// Why a configuration is not one the model offers: the request field at fault and a sentence.
struct misfit {
    std::string field;
    std::string message;
};

// bytes * cost_per_gb / 2^30 rounded half up; nullopt when it does not fit in 64 bits.
std::optional<std::int64_t> per_gb_cost(std::int64_t bytes, std::int64_t cost_per_gb);

// The disk rate for the configuration's kind and interface, or null.
const custom_disk_rate* disk_rate(const custom_model& model, const custom_config& config);

// Empty when the model offers the configuration's cpu, memory and disk (the disk priced for its
// kind and interface, within that rate's sizes).
std::optional<misfit> check_fit(const custom_model& model, const custom_config& config);

// The monthly price of a configuration check_fit accepts; nullopt when an amount would not fit in
// 64 bits (absurd counts or costs).
std::optional<custom_price> monthly_price(const custom_model& model, const custom_config& config);

}  // namespace vpsfleet::billing
