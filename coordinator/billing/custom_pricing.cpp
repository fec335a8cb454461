#include "coordinator/billing/custom_pricing.hpp"

#include <limits>

namespace vpsfleet::billing {

namespace {

using wide = __int128;
constexpr wide k_max = std::numeric_limits<std::int64_t>::max();

std::optional<std::int64_t> narrow(wide value) {
    if (value < 0 || value > k_max) return std::nullopt;
    return static_cast<std::int64_t>(value);
}

std::string range(std::int64_t min, std::int64_t max) {
    return std::to_string(min) + "-" + std::to_string(max);
}

}  // namespace

std::optional<std::int64_t> per_gb_cost(std::int64_t bytes, std::int64_t cost_per_gb) {
    if (bytes < 0 || cost_per_gb < 0) return std::nullopt;
    const wide scaled = static_cast<wide>(bytes) * cost_per_gb;
    return narrow((scaled + k_bytes_per_gb / 2) / k_bytes_per_gb);
}

const custom_disk_rate* disk_rate(const custom_model& model, const custom_config& config) {
    for (const auto& d : model.disks) {
        if (d.kind == config.disk_type && d.interface == config.disk_interface) return &d;
    }
    return nullptr;
}

std::optional<misfit> check_fit(const custom_model& model, const custom_config& config) {
    if (config.cpu < model.min_cpu || config.cpu > model.max_cpu) {
        return misfit{"cpu", "cpu must be " + range(model.min_cpu, model.max_cpu) +
                                 " cores under this pricing model"};
    }
    if (config.memory < model.min_memory || config.memory > model.max_memory) {
        return misfit{"memory", "memory must be " + range(model.min_memory, model.max_memory) +
                                    " bytes under this pricing model"};
    }
    const auto* disk = disk_rate(model, config);
    if (disk == nullptr) {
        return misfit{"disk_type", "this pricing model has no disk pricing for " +
                                       config.disk_type + " on " + config.disk_interface};
    }
    if (config.disk_size < disk->min_disk_size || config.disk_size > disk->max_disk_size) {
        return misfit{"disk_size", "disk_size must be " +
                                       range(disk->min_disk_size, disk->max_disk_size) +
                                       " bytes for " + disk->kind + " on " + disk->interface};
    }
    return std::nullopt;
}

std::optional<custom_price> monthly_price(const custom_model& model, const custom_config& config) {
    const auto* disk = disk_rate(model, config);
    if (disk == nullptr) return std::nullopt;
    const auto cpu = narrow(static_cast<wide>(config.cpu) * model.cpu_cost);
    const auto memory = per_gb_cost(config.memory, model.memory_cost);
    const auto disk_cost = per_gb_cost(config.disk_size, disk->cost);
    const auto ip4 = narrow(static_cast<wide>(config.ip4_count) * model.ip4_cost);
    const auto ip6 = narrow(static_cast<wide>(config.ip6_count) * model.ip6_cost);
    if (!cpu || !memory || !disk_cost || !ip4 || !ip6) return std::nullopt;
    const auto total = narrow(static_cast<wide>(*cpu) + *memory + *disk_cost + *ip4 + *ip6);
    if (!total) return std::nullopt;
    return custom_price{*cpu, *memory, *disk_cost, *ip4, *ip6, *total};
}

}  // namespace vpsfleet::billing
