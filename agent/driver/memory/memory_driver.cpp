#include "agent/driver/memory/memory_driver.hpp"

#include <cstdio>
#include <thread>

namespace vpsfleet::agent::driver {

namespace {

// Each running vCPU is busy a tenth of the time; disk and network grow in step with CPU time.
constexpr std::uint64_t k_busy_per_mille = 100;

std::string make_uuid(const std::string& host, std::uint64_t n) {
    // Stable per host and index, so a rerun of the simulator reports the same VMs.
    const std::uint64_t h = std::hash<std::string>{}(host);
    char buf[40];
    std::snprintf(buf, sizeof buf, "%08x-%04x-4%03x-8%03x-%012llx", static_cast<unsigned>(h >> 32),
                  static_cast<unsigned>((h >> 16) & 0xffff), static_cast<unsigned>(h & 0xfff),
                  static_cast<unsigned>((n >> 48) & 0xfff),
                  static_cast<unsigned long long>(n & 0xffffffffffffULL));
    return buf;
}

error not_found(const std::string& what) { return make_error(errc::not_found, "no VM " + what); }

}  // namespace

memory_driver::memory_driver(memory_options options) : options_(std::move(options)) {
    for (unsigned i = 0; i < options_.vms; ++i) {
        vm v;
        v.status.uuid = make_uuid(options_.host_name, next_id_++);
        v.status.name = options_.host_name + "-vm" + std::to_string(i);
        v.status.state = "running";
        v.vcpus = 1 + i % 4;
        v.memory_mib = 1024ULL << (i % 3);
        v.disk_bytes = 20ULL << 30;
        v.since = started_;
        v.status.config_hash = hash(v);
        vms_.emplace(v.status.uuid, std::move(v));
    }
}

std::string memory_driver::hash(const vm& v) {
    return std::to_string(v.vcpus) + "-" + std::to_string(v.memory_mib) + "-" +
           std::to_string(v.disk_bytes) + "-" + std::to_string(v.generation);
}

void memory_driver::wait_delay() const {
    if (options_.command_delay.count() > 0) std::this_thread::sleep_for(options_.command_delay);
}

memory_driver::vm* memory_driver::find(const std::string& name_or_uuid) {
    if (auto it = vms_.find(name_or_uuid); it != vms_.end()) return &it->second;
    for (auto& [uuid, v] : vms_) {
        if (v.status.name == name_or_uuid) return &v;
    }
    return nullptr;
}

void memory_driver::set_state(vm& v, const std::string& state, const std::string& event,
                              const std::string& detail) {
    const auto now = std::chrono::steady_clock::now();
    if (v.status.state == "running") {
        const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now - v.since).count();
        v.cpu_ns += static_cast<std::uint64_t>(ns) * v.vcpus * k_busy_per_mille / 1000;
    }
    v.since = now;
    v.status.state = state;
    pending_.push_back({v.status.uuid, v.status.name, event, detail, state});
}

void memory_driver::flush_events() {
    std::vector<vm_event> events;
    {
        std::lock_guard lock(mutex_);
        events.swap(pending_);
    }
    std::lock_guard lock(handler_mutex_);
    if (!handler_) return;
    for (const auto& e : events) handler_(e);
}

void memory_driver::on_event(event_handler handler) {
    std::lock_guard lock(handler_mutex_);
    handler_ = std::move(handler);
}

result<vm_status> memory_driver::define(const vm_spec& spec) {
    if (spec.name.empty()) return make_error(errc::invalid_argument, "the VM needs a name");
    wait_delay();
    vm_status out;
    {
        std::lock_guard lock(mutex_);
        std::string uuid =
            spec.uuid.empty() ? make_uuid(options_.host_name, next_id_++) : spec.uuid;
        for (const auto& [id, other] : vms_) {
            if (other.status.name == spec.name && id != uuid)
                return make_error(errc::name_clash, "another VM is named " + spec.name);
        }
        auto [it, inserted] = vms_.try_emplace(uuid);
        vm& v = it->second;
        v.status.uuid = uuid;
        v.status.name = spec.name;
        v.vcpus = spec.vcpus;
        v.memory_mib = spec.memory_mib;
        v.disk_bytes = spec.disks.empty() ? 0 : spec.disks.front().size_bytes;
        ++v.generation;
        v.status.config_hash = hash(v);
        if (inserted)
            set_state(v, "shutoff", "defined", "added");
        else
            pending_.push_back({uuid, v.status.name, "defined", "updated", v.status.state});
        out = v.status;
    }
    flush_events();
    return out;
}

result<vm_status> memory_driver::start(const std::string& name) {
    wait_delay();
    vm_status out;
    {
        std::lock_guard lock(mutex_);
        vm* v = find(name);
        if (!v) return not_found(name);
        if (v->status.state == "running")
            return make_error(errc::invalid_state, "domain is already running");
        set_state(*v, "running", "started", "booted");
        out = v->status;
    }
    flush_events();
    return out;
}

result<shutdown_outcome> memory_driver::shutdown(const std::string& name,
                                                 std::chrono::milliseconds) {
    auto stopped = stop(name);
    if (!stopped) return stopped.error();
    return shutdown_outcome{*stopped, false};
}

result<vm_status> memory_driver::stop(const std::string& name) {
    wait_delay();
    vm_status out;
    {
        std::lock_guard lock(mutex_);
        vm* v = find(name);
        if (!v) return not_found(name);
        if (v->status.state != "running")
            return make_error(errc::invalid_state, "domain is not running");
        set_state(*v, "shutoff", "stopped", "destroyed");
        out = v->status;
    }
    flush_events();
    return out;
}

result<vm_status> memory_driver::reboot(const std::string& name) {
    wait_delay();
    std::lock_guard lock(mutex_);
    vm* v = find(name);
    if (!v) return not_found(name);
    if (v->status.state != "running")
        return make_error(errc::invalid_state, "domain is not running");
    return v->status;
}

result<vm_status> memory_driver::reset(const std::string& name) { return reboot(name); }

result<void> memory_driver::undefine(const std::string& name, bool) {
    wait_delay();
    {
        std::lock_guard lock(mutex_);
        vm* v = find(name);
        if (!v) return not_found(name);
        pending_.push_back({v->status.uuid, v->status.name, "undefined", "removed", "shutoff"});
        vms_.erase(v->status.uuid);
    }
    flush_events();
    return {};
}

result<change_outcome> memory_driver::resize(const std::string& name, const resize_spec& spec) {
    wait_delay();
    std::lock_guard lock(mutex_);
    vm* v = find(name);
    if (!v) return not_found(name);
    if (spec.vcpus) v->vcpus = *spec.vcpus;
    if (spec.memory_mib) v->memory_mib = *spec.memory_mib;
    if (auto it = spec.disk_bytes.find(0); it != spec.disk_bytes.end()) {
        if (it->second < v->disk_bytes)
            return make_error(errc::invalid_argument, "disks only grow");
        v->disk_bytes = it->second;
    }
    ++v->generation;
    v->status.config_hash = hash(*v);
    return change_outcome{v->status, {}};
}

result<vm_status> memory_driver::reinstall(const std::string& name, const reinstall_spec& spec) {
    wait_delay();
    vm_status out;
    {
        std::lock_guard lock(mutex_);
        vm* v = find(name);
        if (!v) return not_found(name);
        if (spec.size_bytes) v->disk_bytes = *spec.size_bytes;
        ++v->generation;
        v->status.config_hash = hash(*v);
        if (spec.start && v->status.state != "running")
            set_state(*v, "running", "started", "booted");
        out = v->status;
    }
    flush_events();
    return out;
}

result<change_outcome> memory_driver::set_limits(const std::string& name, const vm_limits&) {
    std::lock_guard lock(mutex_);
    vm* v = find(name);
    if (!v) return not_found(name);
    return change_outcome{v->status, {}};
}

result<snapshot_info> memory_driver::create_snapshot(const std::string& name,
                                                     const std::string& snapshot,
                                                     const std::string& description) {
    wait_delay();
    std::lock_guard lock(mutex_);
    vm* v = find(name);
    if (!v) return not_found(name);
    if (v->snapshots.contains(snapshot))
        return make_error(errc::name_clash, "snapshot " + snapshot + " exists");
    for (auto& [n, s] : v->snapshots) s.current = false;
    snapshot_info info{snapshot,
                       description,
                       v->status.state,
                       std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count(),
                       std::nullopt,
                       true};
    v->snapshots[snapshot] = info;
    return info;
}

result<std::vector<snapshot_info>> memory_driver::list_snapshots(const std::string& name) {
    std::lock_guard lock(mutex_);
    vm* v = find(name);
    if (!v) return not_found(name);
    std::vector<snapshot_info> out;
    for (const auto& [n, s] : v->snapshots) out.push_back(s);
    return out;
}

result<vm_status> memory_driver::revert_snapshot(const std::string& name,
                                                 const std::string& snapshot) {
    wait_delay();
    std::lock_guard lock(mutex_);
    vm* v = find(name);
    if (!v) return not_found(name);
    if (!v->snapshots.contains(snapshot)) return not_found(name + " snapshot " + snapshot);
    return v->status;
}

result<void> memory_driver::delete_snapshot(const std::string& name, const std::string& snapshot) {
    std::lock_guard lock(mutex_);
    vm* v = find(name);
    if (!v) return not_found(name);
    if (v->snapshots.erase(snapshot) == 0) return not_found(name + " snapshot " + snapshot);
    return {};
}

result<console_ticket> memory_driver::console(const std::string& name,
                                              std::chrono::seconds valid_for) {
    std::lock_guard lock(mutex_);
    vm* v = find(name);
    if (!v) return not_found(name);
    console_ticket t;
    t.host = "127.0.0.1";
    t.port = 5900;
    t.password = "sim" + std::to_string(next_id_++);
    t.expires_at = std::chrono::duration_cast<std::chrono::seconds>(
                       (std::chrono::system_clock::now() + valid_for).time_since_epoch())
                       .count();
    return t;
}

result<void> memory_driver::set_password(const std::string& name, const std::string&,
                                         const std::string&, bool) {
    std::lock_guard lock(mutex_);
    if (!find(name)) return not_found(name);
    return {};
}

result<void> memory_driver::set_ssh_keys(const std::string& name, const std::string&,
                                         const std::vector<std::string>&) {
    std::lock_guard lock(mutex_);
    if (!find(name)) return not_found(name);
    return {};
}

result<firewall_outcome> memory_driver::firewall(const std::string& name,
                                                 const firewall_spec& spec) {
    std::lock_guard lock(mutex_);
    vm* v = find(name);
    if (!v) return not_found(name);
    return firewall_outcome{v->status, spec.rules.empty() ? "" : "vpsfleet-" + v->status.uuid,
                            spec.rules.size(), v->status.state == "running"};
}

result<host_facts> memory_driver::facts() {
    host_facts f;
    f.hostname = options_.host_name;
    f.cpu_model = "simulated";
    f.cpus = options_.cpus;
    f.cpu_mhz = 2400;
    f.memory_bytes = options_.memory_bytes;
    std::lock_guard lock(mutex_);
    for (const auto& [uuid, v] : vms_) ++f.domains_by_state[v.status.state];
    return f;
}

result<std::vector<vm_status>> memory_driver::inventory() {
    std::vector<vm_status> out;
    std::lock_guard lock(mutex_);
    out.reserve(vms_.size());
    for (const auto& [uuid, v] : vms_) out.push_back(v.status);
    return out;
}

result<stats_sample> memory_driver::stats() {
    if (!options_.stats) return make_error(errc::unsupported, "statistics are turned off");
    const auto now = std::chrono::steady_clock::now();
    stats_sample s;
    s.at = std::chrono::system_clock::now();
    const auto up_ns = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now - started_).count());
    std::uint64_t busy = 0;
    std::uint64_t used_memory = 0;
    std::uint64_t allocated = 0;
    std::lock_guard lock(mutex_);
    s.vms.reserve(vms_.size());
    for (const auto& [uuid, v] : vms_) {
        std::uint64_t cpu = v.cpu_ns;
        if (v.status.state == "running") {
            const auto ns = static_cast<std::uint64_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(now - v.since).count());
            cpu += ns * v.vcpus * k_busy_per_mille / 1000;
            used_memory += v.memory_mib << 20;
        }
        busy += cpu;
        allocated += v.disk_bytes;
        vm_stats vs;
        vs.uuid = uuid;
        vs.name = v.status.name;
        vs.state = v.status.state;
        vs.vcpus = v.vcpus;
        vs.cpu_time_ns = cpu;
        vs.memory_bytes = v.memory_mib << 20;
        vs.max_memory_bytes = v.memory_mib << 20;
        vs.disk_read_bytes = cpu / 4;
        vs.disk_write_bytes = cpu / 8;
        vs.disk_read_ops = cpu / 40'000;
        vs.disk_write_ops = cpu / 80'000;
        vs.net_rx_bytes = cpu / 2;
        vs.net_tx_bytes = cpu / 3;
        vs.net_rx_packets = cpu / 1'000;
        vs.net_tx_packets = cpu / 1'500;
        s.vms.push_back(std::move(vs));
    }
    s.host.cpu_busy_ns = busy;
    const std::uint64_t total = up_ns * options_.cpus;
    s.host.cpu_idle_ns = total > busy ? total - busy : 0;
    s.host.memory_total_bytes = options_.memory_bytes;
    s.host.memory_free_bytes =
        options_.memory_bytes > used_memory ? options_.memory_bytes - used_memory : 0;
    s.host.pools.push_back({"vms", options_.pool_bytes, allocated,
                            options_.pool_bytes > allocated ? options_.pool_bytes - allocated : 0});
    s.host.net_rx_bytes = busy / 2;
    s.host.net_tx_bytes = busy / 3;
    return s;
}

}  // namespace vpsfleet::agent::driver
