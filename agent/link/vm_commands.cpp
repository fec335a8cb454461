#include "agent/link/vm_commands.hpp"

#include <algorithm>
#include <chrono>

namespace vpsfleet::agent::link {

using json = nlohmann::json;
using driver::result;

namespace {

// Reads typed fields of one JSON object, naming the path of any field it cannot use.
class reader {
  public:
    reader(const json& object, std::string path) : o_(object), path_(std::move(path)) {
        if (!o_.is_object()) throw args_error(path_ + " must be an object");
    }

    bool has(const char* key) const { return o_.contains(key) && !o_[key].is_null(); }
    std::string where(const char* key) const { return path_ + "." + key; }

    std::string str(const char* key) const {
        auto v = opt_str(key);
        if (!v || v->empty()) throw args_error(where(key) + " is required");
        return *v;
    }
    std::optional<std::string> opt_str(const char* key) const {
        if (!has(key)) return std::nullopt;
        if (!o_[key].is_string()) throw args_error(where(key) + " must be a string");
        return o_[key].get<std::string>();
    }
    std::optional<std::uint64_t> opt_u64(const char* key) const {
        if (!has(key)) return std::nullopt;
        const auto& v = o_[key];
        if (!v.is_number_integer() || (v.is_number_unsigned() ? false : v.get<std::int64_t>() < 0))
            throw args_error(where(key) + " must be a whole number");
        return o_[key].get<std::uint64_t>();
    }
    std::uint64_t u64(const char* key) const {
        auto v = opt_u64(key);
        if (!v) throw args_error(where(key) + " is required");
        return *v;
    }
    std::optional<std::uint32_t> opt_u32(const char* key) const {
        auto v = opt_u64(key);
        if (v && *v > 0xffffffffu) throw args_error(where(key) + " is too large");
        return v ? std::optional<std::uint32_t>(static_cast<std::uint32_t>(*v)) : std::nullopt;
    }
    bool boolean(const char* key, bool fallback) const {
        if (!has(key)) return fallback;
        if (!o_[key].is_boolean()) throw args_error(where(key) + " must be true or false");
        return o_[key].get<bool>();
    }
    std::vector<std::string> strings(const char* key) const {
        std::vector<std::string> out;
        if (!has(key)) return out;
        if (!o_[key].is_array()) throw args_error(where(key) + " must be a list of strings");
        for (const auto& v : o_[key]) {
            if (!v.is_string()) throw args_error(where(key) + " must be a list of strings");
            out.push_back(v.get<std::string>());
        }
        return out;
    }
    // Each element of an array of objects, with its path.
    template <class F>
    void each(const char* key, F f) const {
        if (!has(key)) return;
        if (!o_[key].is_array()) throw args_error(where(key) + " must be a list");
        for (std::size_t i = 0; i < o_[key].size(); ++i)
            f(reader(o_[key][i], where(key) + "[" + std::to_string(i) + "]"));
    }
    reader object(const char* key) const { return reader(o_[key], where(key)); }

  private:
    const json& o_;
    std::string path_;
};

driver::image_ref parse_image(const reader& r) { return {r.str("pool"), r.str("volume")}; }

driver::clone_mode parse_clone(const reader& r) {
    const auto mode = r.opt_str("clone").value_or("overlay");
    if (mode == "overlay") return driver::clone_mode::overlay;
    if (mode == "copy") return driver::clone_mode::copy;
    throw args_error(r.where("clone") + " must be overlay or copy");
}

std::vector<driver::ip_address> parse_ips(const reader& r, const char* key) {
    std::vector<driver::ip_address> out;
    r.each(key, [&](const reader& ip) { out.push_back({ip.str("cidr"), ip.opt_str("gateway")}); });
    return out;
}

driver::cloud_init_spec parse_cloud_init(const reader& r) {
    driver::cloud_init_spec ci;
    ci.hostname = r.opt_str("hostname").value_or("");
    ci.user_data = r.opt_str("user_data");
    r.each("users", [&](const reader& u) {
        driver::user_spec user;
        user.name = u.str("name");
        user.ssh_keys = u.strings("ssh_keys");
        user.password_hash = u.opt_str("password_hash");
        user.sudo = u.boolean("sudo", true);
        ci.users.push_back(std::move(user));
    });
    return ci;
}

driver::vm_limits parse_limits(const reader& r) {
    driver::vm_limits l;
    l.cpu_percent = r.opt_u32("cpu_percent");
    l.disk_iops = r.opt_u64("disk_iops");
    l.disk_bytes_per_sec = r.opt_u64("disk_bytes_per_sec");
    l.net_in_kib_per_sec = r.opt_u64("net_in_kib_per_sec");
    l.net_out_kib_per_sec = r.opt_u64("net_out_kib_per_sec");
    return l;
}

std::vector<driver::port_range> parse_ports(const reader& r, const char* key) {
    std::vector<driver::port_range> out;
    r.each(key, [&](const reader& p) {
        const auto from = p.u64("from");
        const auto to = p.opt_u64("to").value_or(from);
        if (from == 0 || from > 65535 || to < from || to > 65535)
            throw args_error(p.where("from") + " and to must be a port range within 1-65535");
        out.push_back({static_cast<std::uint16_t>(from), static_cast<std::uint16_t>(to)});
    });
    return out;
}

driver::firewall_spec parse_firewall(const reader& a) {
    driver::firewall_spec spec;
    spec.mac = a.str("mac");
    spec.ipv4 = a.strings("ipv4");
    spec.ipv6 = a.strings("ipv6");
    a.each("rules", [&](const reader& r) {
        driver::firewall_rule rule;
        const auto direction = r.str("direction");
        if (direction != "in" && direction != "out")
            throw args_error(r.where("direction") + " must be in or out");
        rule.direction =
            direction == "in" ? driver::firewall_direction::in : driver::firewall_direction::out;
        const auto action = r.str("action");
        if (action == "accept") {
            rule.action = driver::firewall_action::accept;
        } else if (action == "drop") {
            rule.action = driver::firewall_action::drop;
        } else if (action == "reject") {
            rule.action = driver::firewall_action::reject;
        } else {
            throw args_error(r.where("action") + " must be accept, drop or reject");
        }
        rule.protocol = r.opt_str("protocol").value_or("");
        rule.source = r.opt_str("source");
        rule.destination = r.opt_str("destination");
        rule.source_ports = parse_ports(r, "source_ports");
        rule.destination_ports = parse_ports(r, "destination_ports");
        rule.comment = r.opt_str("comment").value_or("");
        spec.rules.push_back(std::move(rule));
    });
    return spec;
}

json status_json(const driver::vm_status& s) {
    return {{"uuid", s.uuid}, {"name", s.name}, {"state", s.state}, {"config_hash", s.config_hash}};
}

json change_json(const driver::change_outcome& c) {
    json out = status_json(c.vm);
    out["pending_restart"] = c.pending_restart;
    return out;
}

json snapshot_json(const driver::snapshot_info& s) {
    json out = {{"name", s.name},
                {"description", s.description},
                {"state", s.state},
                {"created_at", s.created_at},
                {"current", s.current}};
    if (s.parent) out["parent"] = *s.parent;
    return out;
}

// Wraps a driver call whose value becomes JSON through `to_json`.
template <class T, class Call, class ToJson>
vm_job job(Call call, ToJson to_json) {
    return [call = std::move(call),
            to_json = std::move(to_json)](driver::hypervisor& h) -> result<json> {
        result<T> r = call(h);
        if (!r) return r.error();
        return to_json(*r);
    };
}

template <class Call>
vm_job done_job(Call call, json answer) {
    return [call = std::move(call),
            answer = std::move(answer)](driver::hypervisor& h) -> result<json> {
        result<void> r = call(h);
        if (!r) return r.error();
        return answer;
    };
}

const std::vector<std::string> k_kinds = {"domain.start",
                                          "domain.stop",
                                          "vm.define",
                                          "vm.start",
                                          "vm.shutdown",
                                          "vm.stop",
                                          "vm.reboot",
                                          "vm.reset",
                                          "vm.undefine",
                                          "vm.resize",
                                          "vm.reinstall",
                                          "vm.limits",
                                          "vm.snapshot.create",
                                          "vm.snapshot.list",
                                          "vm.snapshot.revert",
                                          "vm.snapshot.delete",
                                          "vm.console",
                                          "vm.guest.set_password",
                                          "vm.guest.set_ssh_keys",
                                          "vm.firewall"};

// domain.start and domain.stop predate the vm.* kinds and keep their strict meaning: asking for
// the state a domain is already in is refused, as libvirt refuses it.
vm_job legacy_job(const std::string& kind, const std::string& domain) {
    const bool start = kind == "domain.start";
    return [start, domain](driver::hypervisor& h) -> result<json> {
        auto inventory = h.inventory();
        if (!inventory) return inventory.error();
        for (const auto& vm : *inventory) {
            if (vm.uuid != domain && vm.name != domain) continue;
            const bool running = vm.state == "running";
            if (start == running)
                return driver::make_error(driver::errc::failed,
                                          std::string(start ? "start " : "stop ") + domain +
                                              ": domain is " +
                                              (running ? "already running" : "not running"));
            auto r = start ? h.start(domain) : h.stop(domain);
            if (!r) return r.error();
            return json{{"domain", domain}};
        }
        return driver::make_error(driver::errc::not_found, "no domain '" + domain + "'");
    };
}

}  // namespace

driver::vm_spec parse_vm_spec(const json& args) {
    const reader a(args, "args");
    driver::vm_spec spec;
    spec.name = a.str("name");
    spec.uuid = a.str("uuid");
    spec.vcpus = a.opt_u32("vcpus").value_or(1);
    spec.max_vcpus = a.opt_u32("max_vcpus").value_or(0);
    spec.memory_mib = a.u64("memory_mib");
    spec.max_memory_mib = a.opt_u64("max_memory_mib").value_or(0);
    a.each("disks", [&](const reader& d) {
        driver::disk_spec disk;
        disk.size_bytes = d.opt_u64("size_bytes").value_or(0);
        disk.pool = d.str("pool");
        if (d.has("image")) disk.image = parse_image(d.object("image"));
        disk.clone = parse_clone(d);
        spec.disks.push_back(std::move(disk));
    });
    a.each("nics", [&](const reader& n) {
        driver::nic_spec nic;
        nic.network = n.opt_str("network");
        nic.bridge = n.opt_str("bridge");
        nic.mac = n.opt_str("mac").value_or("");
        nic.ipv4 = parse_ips(n, "ipv4");
        nic.ipv6 = parse_ips(n, "ipv6");
        nic.nameservers = n.strings("nameservers");
        spec.nics.push_back(std::move(nic));
    });
    if (a.has("cloud_init")) spec.cloud_init = parse_cloud_init(a.object("cloud_init"));
    if (a.has("limits")) spec.limits = parse_limits(a.object("limits"));
    return spec;
}

const std::vector<std::string>& vm_command_kinds() { return k_kinds; }

std::optional<vm_job> make_vm_job(const std::string& kind, const json& args) {
    if (std::find(k_kinds.begin(), k_kinds.end(), kind) == k_kinds.end()) return std::nullopt;
    const reader a(args, "args");
    if (kind == "domain.start" || kind == "domain.stop") {
        if (!a.has("domain")) throw args_error("args.domain must be a domain name or UUID");
        return legacy_job(kind, a.str("domain"));
    }
    if (kind == "vm.define") {
        auto spec = parse_vm_spec(args);
        return job<driver::vm_status>([spec](driver::hypervisor& h) { return h.define(spec); },
                                      status_json);
    }
    const std::string vm = a.str("vm");
    if (kind == "vm.start")
        return job<driver::vm_status>([vm](driver::hypervisor& h) { return h.start(vm); },
                                      status_json);
    if (kind == "vm.stop")
        return job<driver::vm_status>([vm](driver::hypervisor& h) { return h.stop(vm); },
                                      status_json);
    if (kind == "vm.reboot")
        return job<driver::vm_status>([vm](driver::hypervisor& h) { return h.reboot(vm); },
                                      status_json);
    if (kind == "vm.reset")
        return job<driver::vm_status>([vm](driver::hypervisor& h) { return h.reset(vm); },
                                      status_json);
    if (kind == "vm.shutdown") {
        const std::chrono::milliseconds timeout(a.opt_u64("timeout_ms").value_or(60'000));
        return job<driver::shutdown_outcome>(
            [vm, timeout](driver::hypervisor& h) { return h.shutdown(vm, timeout); },
            [](const driver::shutdown_outcome& o) {
                json out = status_json(o.vm);
                out["forced"] = o.forced;
                return out;
            });
    }
    if (kind == "vm.undefine") {
        const bool keep = a.boolean("keep_volumes", false);
        return done_job([vm, keep](driver::hypervisor& h) { return h.undefine(vm, keep); },
                        json{{"vm", vm}, {"undefined", true}});
    }
    if (kind == "vm.resize") {
        driver::resize_spec spec;
        spec.vcpus = a.opt_u32("vcpus");
        spec.memory_mib = a.opt_u64("memory_mib");
        a.each("disks",
               [&](const reader& d) { spec.disk_bytes[d.u64("index")] = d.u64("size_bytes"); });
        return job<driver::change_outcome>(
            [vm, spec](driver::hypervisor& h) { return h.resize(vm, spec); }, change_json);
    }
    if (kind == "vm.reinstall") {
        driver::reinstall_spec spec;
        spec.image = parse_image(a.object("image"));
        spec.clone = parse_clone(a);
        spec.size_bytes = a.opt_u64("size_bytes");
        if (a.has("cloud_init")) spec.cloud_init = parse_cloud_init(a.object("cloud_init"));
        spec.start = a.boolean("start", true);
        return job<driver::vm_status>(
            [vm, spec](driver::hypervisor& h) { return h.reinstall(vm, spec); }, status_json);
    }
    if (kind == "vm.limits") {
        auto limits = parse_limits(a);
        return job<driver::change_outcome>(
            [vm, limits](driver::hypervisor& h) { return h.set_limits(vm, limits); }, change_json);
    }
    if (kind == "vm.snapshot.create") {
        const std::string name = a.str("name");
        const std::string description = a.opt_str("description").value_or("");
        return job<driver::snapshot_info>(
            [vm, name, description](driver::hypervisor& h) {
                return h.create_snapshot(vm, name, description);
            },
            snapshot_json);
    }
    if (kind == "vm.snapshot.list") {
        return job<std::vector<driver::snapshot_info>>(
            [vm](driver::hypervisor& h) { return h.list_snapshots(vm); },
            [](const std::vector<driver::snapshot_info>& list) {
                json out = json::array();
                for (const auto& s : list) out.push_back(snapshot_json(s));
                return json{{"snapshots", std::move(out)}};
            });
    }
    if (kind == "vm.snapshot.revert") {
        const std::string name = a.str("name");
        return job<driver::vm_status>(
            [vm, name](driver::hypervisor& h) { return h.revert_snapshot(vm, name); }, status_json);
    }
    if (kind == "vm.snapshot.delete") {
        const std::string name = a.str("name");
        return done_job([vm, name](driver::hypervisor& h) { return h.delete_snapshot(vm, name); },
                        json{{"vm", vm}, {"deleted", name}});
    }
    if (kind == "vm.console") {
        const std::chrono::seconds valid(a.opt_u64("valid_for_s").value_or(60));
        return job<driver::console_ticket>(
            [vm, valid](driver::hypervisor& h) { return h.console(vm, valid); },
            [](const driver::console_ticket& t) {
                return json{{"protocol", t.protocol},
                            {"host", t.host},
                            {"port", t.port},
                            {"password", t.password},
                            {"expires_at", t.expires_at}};
            });
    }
    if (kind == "vm.guest.set_password") {
        const std::string user = a.str("user");
        const auto hash = a.opt_str("password_hash");
        const auto plain = a.opt_str("password");
        if (hash.has_value() == plain.has_value())
            throw args_error("args needs exactly one of password and password_hash");
        const std::string secret = hash ? *hash : *plain;
        const bool is_hash = hash.has_value();
        return done_job(
            [vm, user, secret, is_hash](driver::hypervisor& h) {
                return h.set_password(vm, user, secret, is_hash);
            },
            json{{"vm", vm}, {"user", user}});
    }
    if (kind == "vm.firewall") {
        auto spec = parse_firewall(a);
        return job<driver::firewall_outcome>(
            [vm, spec](driver::hypervisor& h) { return h.firewall(vm, spec); },
            [](const driver::firewall_outcome& o) {
                json out = status_json(o.vm);
                out["filter"] = o.filter.empty() ? json(nullptr) : json(o.filter);
                out["rules"] = o.rules;
                out["live"] = o.live;
                return out;
            });
    }
    // vm.guest.set_ssh_keys
    const std::string user = a.str("user");
    const auto keys = a.strings("ssh_keys");
    return done_job(
        [vm, user, keys](driver::hypervisor& h) { return h.set_ssh_keys(vm, user, keys); },
        json{{"vm", vm}, {"user", user}, {"keys", keys.size()}});
}

}  // namespace vpsfleet::agent::link
