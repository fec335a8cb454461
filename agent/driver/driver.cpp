#include "agent/driver/driver.hpp"

#include "agent/driver/validate.hpp"

#include <regex>

namespace vpsfleet::agent::driver {

std::string_view to_string(errc code) {
    switch (code) {
        case errc::not_found:
            return "not_found";
        case errc::name_clash:
            return "name_clash";
        case errc::pool_full:
            return "pool_full";
        case errc::invalid_argument:
            return "invalid_arguments";
        case errc::invalid_state:
            return "invalid_state";
        case errc::no_guest_agent:
            return "no_guest_agent";
        case errc::unsupported:
            return "unsupported";
        case errc::timeout:
            return "timeout";
        case errc::unavailable:
            return "unavailable";
        case errc::failed:
            break;
    }
    return "hypervisor_error";
}

namespace {

error invalid(std::string message) { return {errc::invalid_argument, std::move(message)}; }

bool valid_cidr(const std::string& cidr, bool v6) {
    static const std::regex v4_pattern(R"(^(\d{1,3}\.){3}\d{1,3}/\d{1,2}$)");
    static const std::regex v6_pattern(R"(^[0-9a-fA-F:]+/\d{1,3}$)");
    return std::regex_match(cidr, v6 ? v6_pattern : v4_pattern);
}

}  // namespace

bool valid_uuid(const std::string& uuid) {
    static const std::regex pattern(
        "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$");
    return std::regex_match(uuid, pattern);
}

bool valid_vm_name(const std::string& name) {
    static const std::regex pattern("^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$");
    return std::regex_match(name, pattern);
}

result<void> validate(const vm_spec& spec) {
    if (!valid_vm_name(spec.name))
        return invalid("name '" + spec.name +
                       "' must be 1-63 letters, digits, '.', '_' or '-', starting with a letter "
                       "or digit");
    if (!valid_uuid(spec.uuid)) return invalid("uuid '" + spec.uuid + "' is not a UUID");
    if (spec.vcpus == 0 || spec.vcpus > 512) return invalid("vcpus must be between 1 and 512");
    if (spec.max_vcpus != 0 && spec.max_vcpus < spec.vcpus)
        return invalid("max_vcpus must not be below vcpus");
    if (spec.memory_mib < 64) return invalid("memory_mib must be at least 64");
    if (spec.max_memory_mib != 0 && spec.max_memory_mib < spec.memory_mib)
        return invalid("max_memory_mib must not be below memory_mib");
    if (spec.disks.empty()) return invalid("a VM needs at least its root disk");
    for (std::size_t i = 0; i < spec.disks.size(); ++i) {
        const auto& d = spec.disks[i];
        const std::string where = "disks[" + std::to_string(i) + "]";
        if (d.pool.empty()) return invalid(where + ".pool is required");
        if (d.size_bytes == 0 && !d.image) return invalid(where + ".size_bytes is required");
        if (d.image && (d.image->pool.empty() || d.image->volume.empty()))
            return invalid(where + ".image needs a pool and a volume");
    }
    for (std::size_t i = 0; i < spec.nics.size(); ++i) {
        const auto& n = spec.nics[i];
        const std::string where = "nics[" + std::to_string(i) + "]";
        if (n.network.has_value() == n.bridge.has_value())
            return invalid(where + " needs exactly one of network and bridge");
        for (const auto& a : n.ipv4)
            if (!valid_cidr(a.cidr, false))
                return invalid(where + ".ipv4: '" + a.cidr + "' is not an address/prefix");
        for (const auto& a : n.ipv6)
            if (!valid_cidr(a.cidr, true))
                return invalid(where + ".ipv6: '" + a.cidr + "' is not an address/prefix");
    }
    if (spec.limits.cpu_percent && *spec.limits.cpu_percent > 100)
        return invalid("limits.cpu_percent is per vCPU and at most 100");
    if (spec.cloud_init) {
        for (const auto& u : spec.cloud_init->users)
            if (!valid_vm_name(u.name)) return invalid("user name '" + u.name + "' is not valid");
    }
    return {};
}

}  // namespace vpsfleet::agent::driver
