#include "coordinator/scheduler/placement.hpp"

#include <algorithm>

namespace vpsfleet::scheduler {

std::optional<disk_kind> parse_disk_kind(std::string_view s) {
    if (s == "ssd") return disk_kind::ssd;
    if (s == "hdd") return disk_kind::hdd;
    return std::nullopt;
}

std::optional<disk_interface> parse_disk_interface(std::string_view s) {
    if (s == "sata") return disk_interface::sata;
    if (s == "scsi") return disk_interface::scsi;
    if (s == "pcie") return disk_interface::pcie;
    return std::nullopt;
}

std::optional<link_state> parse_link_state(std::string_view s) {
    if (s == "pending") return link_state::pending;
    if (s == "online") return link_state::online;
    if (s == "unreachable") return link_state::unreachable;
    if (s == "down") return link_state::down;
    return std::nullopt;
}

const char* to_string(disk_kind k) { return k == disk_kind::ssd ? "ssd" : "hdd"; }

const char* to_string(disk_interface i) {
    switch (i) {
        case disk_interface::sata:
            return "sata";
        case disk_interface::scsi:
            return "scsi";
        case disk_interface::pcie:
            return "pcie";
    }
    return "unknown";
}

std::int64_t overcommitted(std::int64_t physical, std::int64_t milli) {
    if (physical <= 0 || milli <= 0) return 0;
    // Split so neither product overflows: (q * 1000 + r) * milli / 1000 = q * milli + r * milli /
    // 1000.
    return (physical / 1000) * milli + (physical % 1000) * milli / 1000;
}

namespace {

// Fraction of the overcommitted capacity in use; a resource with no capacity counts as full.
double load_of(std::int64_t used, std::int64_t physical, std::int64_t milli) {
    const double capacity = static_cast<double>(physical) * static_cast<double>(milli) / 1000.0;
    return capacity > 0 ? static_cast<double>(used) / capacity : 1.0;
}

bool disk_matches(const candidate_disk& d, const placement_request& request) {
    return d.enabled && (!request.kind || d.kind == *request.kind) &&
           (!request.interface || d.interface == *request.interface);
}

bool available(const candidate_host& h) {
    return h.enabled && h.region_enabled && h.state == link_state::online;
}

struct host_fit {
    bool any_matching = false;  // an enabled disk of the requested kind and interface
    bool cpu_ok = false;
    bool memory_ok = false;
    const candidate_disk* disk = nullptr;  // the least-loaded matching disk with room
};

host_fit fit_on(const candidate_host& h, const placement_request& request) {
    host_fit fit;
    double disk_load = 0;
    for (const auto& d : h.disks) {
        if (!disk_matches(d, request)) continue;
        fit.any_matching = true;
        if (available_disk(d, h.load) < request.disk) continue;
        const double load = load_of(d.used, d.size, h.load.disk_milli);
        // Ties go to the lowest disk id.
        if (!fit.disk || load < disk_load || (load == disk_load && d.id < fit.disk->id)) {
            fit.disk = &d;
            disk_load = load;
        }
    }
    fit.cpu_ok = overcommitted(h.cpu, h.load.cpu_milli) - h.used_cpu >= request.vcpus;
    fit.memory_ok = overcommitted(h.memory, h.load.memory_milli) - h.used_memory >= request.memory;
    return fit;
}

bool in_scope(const candidate_host& h, const placement_request& request) {
    return !request.region_id || h.region_id == *request.region_id;
}

}  // namespace

bool is_valid(const placement_request& request) {
    return request.vcpus > 0 && request.memory > 0 && request.disk > 0;
}

std::int64_t available_disk(const candidate_disk& disk, const load_factors& load) {
    const auto capacity = overcommitted(disk.size, load.disk_milli);
    return capacity > disk.used ? capacity - disk.used : 0;
}

calculated_load calculate_load(const candidate_host& host) {
    calculated_load out;
    out.cpu_load = load_of(host.used_cpu, host.cpu, host.load.cpu_milli);
    out.memory_load = load_of(host.used_memory, host.memory, host.load.memory_milli);
    double disk_sum = 0;
    int disks = 0;
    for (const auto& d : host.disks) {
        if (!d.enabled) continue;
        disk_sum += load_of(d.used, d.size, host.load.disk_milli);
        ++disks;
    }
    out.disk_load = disks > 0 ? disk_sum / disks : 0.0;
    out.overall_load = (out.cpu_load + out.memory_load + out.disk_load) / 3.0;
    out.available_cpu =
        std::max<std::int64_t>(0, overcommitted(host.cpu, host.load.cpu_milli) - host.used_cpu);
    out.available_memory = std::max<std::int64_t>(
        0, overcommitted(host.memory, host.load.memory_milli) - host.used_memory);
    out.active_vms = host.allocations;
    return out;
}

const char* to_string(no_fit_reason r) {
    switch (r) {
        case no_fit_reason::invalid_request:
            return "invalid_request";
        case no_fit_reason::no_host_in_region:
            return "no_host_in_region";
        case no_fit_reason::no_available_host:
            return "no_available_host";
        case no_fit_reason::no_matching_disk:
            return "no_matching_disk";
        case no_fit_reason::insufficient_cpu:
            return "insufficient_cpu";
        case no_fit_reason::insufficient_memory:
            return "insufficient_memory";
        case no_fit_reason::insufficient_disk:
            return "insufficient_disk";
        case no_fit_reason::contended:
            return "contended";
    }
    return "unknown";
}

std::string describe(const no_fit& n, const placement_request& request) {
    const std::string where =
        request.region_id ? "in region " + std::to_string(*request.region_id) : "in the fleet";
    const auto of_hosts = [&](std::int64_t short_of) {
        return " (" + std::to_string(short_of) + " of " + std::to_string(n.hosts_checked) +
               " hosts are short)";
    };
    switch (n.reason) {
        case no_fit_reason::invalid_request:
            return "a placement needs at least one vCPU and some memory and disk";
        case no_fit_reason::no_host_in_region:
            return "no host " + where;
        case no_fit_reason::no_available_host:
            return "no enabled, online host " + where;
        case no_fit_reason::no_matching_disk: {
            std::string disk = request.kind ? to_string(*request.kind) : "any";
            if (request.interface) disk += std::string("/") + to_string(*request.interface);
            return "no available host " + where + " has an enabled " + disk + " disk";
        }
        case no_fit_reason::insufficient_cpu:
            return "no host " + where + " has " + std::to_string(request.vcpus) + " free vCPUs" +
                   of_hosts(n.short_of_cpu);
        case no_fit_reason::insufficient_memory:
            return "no host " + where + " has " + std::to_string(request.memory) +
                   " bytes of free memory" + of_hosts(n.short_of_memory);
        case no_fit_reason::insufficient_disk:
            return "no host " + where + " has " + std::to_string(request.disk) +
                   " bytes free on a matching disk" + of_hosts(n.short_of_disk);
        case no_fit_reason::contended:
            return "every host chosen " + where + " filled up under concurrent placements";
    }
    return "no host fits";
}

placement_result choose_placement(std::span<const candidate_host> hosts,
                                  const placement_request& request) {
    if (!is_valid(request)) return no_fit{no_fit_reason::invalid_request};

    std::int64_t in_region = 0;
    std::int64_t usable = 0;
    no_fit why;
    const candidate_host* best = nullptr;
    std::int64_t best_disk = 0;
    double best_load = 0;

    for (const auto& h : hosts) {
        if (!in_scope(h, request)) continue;
        ++in_region;
        if (!available(h)) continue;
        ++usable;

        const auto fit = fit_on(h, request);
        if (!fit.any_matching) continue;
        ++why.hosts_checked;
        why.short_of_cpu += fit.cpu_ok ? 0 : 1;
        why.short_of_memory += fit.memory_ok ? 0 : 1;
        why.short_of_disk += fit.disk ? 0 : 1;
        if (!fit.cpu_ok || !fit.memory_ok || !fit.disk) continue;

        const double load = calculate_load(h).overall_load;
        if (!best || load < best_load || (load == best_load && h.id < best->id)) {
            best = &h;
            best_disk = fit.disk->id;
            best_load = load;
        }
    }

    if (best) return placement{best->id, best_disk};
    if (in_region == 0) {
        why.reason = no_fit_reason::no_host_in_region;
    } else if (usable == 0) {
        why.reason = no_fit_reason::no_available_host;
    } else if (why.hosts_checked == 0) {
        why.reason = no_fit_reason::no_matching_disk;
    } else if (why.short_of_cpu >= why.short_of_memory && why.short_of_cpu >= why.short_of_disk) {
        why.reason = no_fit_reason::insufficient_cpu;
    } else if (why.short_of_memory >= why.short_of_disk) {
        why.reason = no_fit_reason::insufficient_memory;
    } else {
        why.reason = no_fit_reason::insufficient_disk;
    }
    return why;
}

std::vector<placement> rank_placements(std::span<const candidate_host> hosts,
                                       const placement_request& request) {
    struct ranked {
        double load;
        placement where;
    };
    if (!is_valid(request)) return {};
    std::vector<ranked> fits;
    for (const auto& h : hosts) {
        if (!in_scope(h, request) || !available(h)) continue;
        const auto fit = fit_on(h, request);
        if (!fit.cpu_ok || !fit.memory_ok || !fit.disk) continue;
        fits.push_back({calculate_load(h).overall_load, {h.id, fit.disk->id}});
    }
    // The order choose_placement's comparison gives: least loaded, then lowest host id.
    std::sort(fits.begin(), fits.end(), [](const ranked& a, const ranked& b) {
        return a.load < b.load || (a.load == b.load && a.where.host_id < b.where.host_id);
    });
    std::vector<placement> out;
    out.reserve(fits.size());
    for (const auto& f : fits) out.push_back(f.where);
    return out;
}

}  // namespace vpsfleet::scheduler
