#include "agent/driver/proxmox/proxmox_driver.hpp"

#include "agent/driver/validate.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cmath>

namespace vpsfleet::agent::proxmox {

using json = nlohmann::json;
using namespace driver;

namespace {

// PVE names a VM with a DNS name (letters, digits, '-' and '.'): the spec's name with anything
// else as '-' ("ins_Ab3" -> "ins-Ab3"), and "vm" if nothing is left. Lookups by name use it too.
std::string pve_name(std::string_view name) {
    std::string out;
    for (const char c : name) {
        const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.';
        out += ok ? c : '-';
    }
    while (!out.empty() && (out.front() == '-' || out.front() == '.')) out.erase(out.begin());
    while (!out.empty() && (out.back() == '-' || out.back() == '.')) out.pop_back();
    return out.empty() ? "vm" : out;
}

std::string text_of(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_null()) return {};
    return v.dump();
}

std::uint64_t number_of(const json& v) {
    if (v.is_number_unsigned()) return v.get<std::uint64_t>();
    if (v.is_number_integer())
        return static_cast<std::uint64_t>(std::max<std::int64_t>(0, v.get<std::int64_t>()));
    if (v.is_number_float()) return static_cast<std::uint64_t>(std::max(0.0, v.get<double>()));
    if (v.is_string()) {
        try {
            return static_cast<std::uint64_t>(std::stod(v.get<std::string>()));
        } catch (const std::exception&) {
            return 0;
        }
    }
    return 0;
}

std::uint64_t field(const json& object, const char* key) {
    return object.contains(key) ? number_of(object[key]) : 0;
}

// The value of `key=` in a PVE property string ("virtio=BC:24:11:..,bridge=vmbr0").
std::string property(const std::string& text, const std::string& key) {
    std::size_t pos = 0;
    while (pos <= text.size()) {
        const auto comma = text.find(',', pos);
        const std::string part =
            text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        if (part.starts_with(key + "=")) return part.substr(key.size() + 1);
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    return {};
}

// "10G", "512M", "2048K", "1073741824" -> bytes.
std::uint64_t size_bytes(const std::string& text) {
    if (text.empty()) return 0;
    std::uint64_t factor = 1;
    std::string digits = text;
    switch (text.back()) {
        case 'K':
            factor = 1ull << 10;
            break;
        case 'M':
            factor = 1ull << 20;
            break;
        case 'G':
            factor = 1ull << 30;
            break;
        case 'T':
            factor = 1ull << 40;
            break;
        default:
            break;
    }
    if (factor != 1) digits.pop_back();
    try {
        return static_cast<std::uint64_t>(std::stod(digits) * static_cast<double>(factor));
    } catch (const std::exception&) {
        return 0;
    }
}

std::string size_text(std::uint64_t bytes) {
    if (bytes % (1ull << 30) == 0) return std::to_string(bytes >> 30) + "G";
    if (bytes % (1ull << 20) == 0) return std::to_string(bytes >> 20) + "M";
    return std::to_string((bytes + 1023) / 1024) + "K";
}

std::string state_of(const std::string& pve_status) {
    if (pve_status == "running") return "running";
    if (pve_status == "stopped") return "shutoff";
    if (pve_status == "paused" || pve_status == "suspended") return "paused";
    return pve_status.empty() ? "unknown" : pve_status;
}

// Containers have no SMBIOS UUID: one derived from node and VMID, stable across restarts.
std::string derived_uuid(const std::string& node, const std::string& type, int vmid) {
    const std::string seed = "proxmox:" + node + ":" + type + ":" + std::to_string(vmid);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(seed.data(), seed.size(), digest, &length, EVP_sha1(), nullptr);
    digest[6] = static_cast<unsigned char>((digest[6] & 0x0f) | 0x50);
    digest[8] = static_cast<unsigned char>((digest[8] & 0x3f) | 0x80);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
        out += hex[digest[i] >> 4];
        out += hex[digest[i] & 0xf];
    }
    return out;
}

bool is_disk_key(const std::string& key) {
    for (const char* bus : {"scsi", "virtio", "sata", "ide"}) {
        const std::string prefix = bus;
        if (key.starts_with(prefix) && key.size() > prefix.size() &&
            std::all_of(key.begin() + static_cast<long>(prefix.size()), key.end(),
                        [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
            return true;
    }
    return false;
}

std::string upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return s;
}

// Cloud-init and sizing settings of a spec as PVE config parameters.
pve_params config_params(const vm_spec& spec, const json& current) {
    pve_params p = {{"name", pve_name(spec.name)},
                    {"cores", std::to_string(spec.vcpus)},
                    {"memory", std::to_string(spec.memory_mib)},
                    {"smbios1", "uuid=" + spec.uuid}};
    if (!spec.nics.empty()) {
        const auto& nic = spec.nics[0];
        const std::string old = current.is_object() ? text_of(current.value("net0", json())) : "";
        std::string mac = nic.mac.empty() ? property(old, "virtio") : upper(nic.mac);
        std::string net0 = "virtio" + (mac.empty() ? std::string() : "=" + mac);
        // PVE attaches NICs to bridges. The coordinator's "default" network (libvirt's name
        // for the host's default) is PVE's default bridge, vmbr0.
        const std::string network = nic.network.value_or("default");
        net0 += ",bridge=" + nic.bridge.value_or(network == "default" ? "vmbr0" : network);
        p.emplace_back("net0", net0);
        std::string ipconfig;
        if (!nic.ipv4.empty()) {
            ipconfig = "ip=" + nic.ipv4[0].cidr;
            if (nic.ipv4[0].gateway) ipconfig += ",gw=" + *nic.ipv4[0].gateway;
        }
        if (!nic.ipv6.empty()) {
            if (!ipconfig.empty()) ipconfig += ",";
            ipconfig += "ip6=" + nic.ipv6[0].cidr;
            if (nic.ipv6[0].gateway) ipconfig += ",gw6=" + *nic.ipv6[0].gateway;
        }
        p.emplace_back("ipconfig0", ipconfig.empty() ? "ip=dhcp" : ipconfig);
        if (!nic.nameservers.empty()) {
            std::string servers;
            for (const auto& s : nic.nameservers) servers += (servers.empty() ? "" : " ") + s;
            p.emplace_back("nameserver", servers);
        }
    }
    if (spec.cloud_init && !spec.cloud_init->users.empty()) {
        const auto& user = spec.cloud_init->users[0];
        p.emplace_back("ciuser", user.name);
        if (user.password_hash) p.emplace_back("cipassword", *user.password_hash);
        if (!user.ssh_keys.empty()) {
            std::string keys;
            for (const auto& k : user.ssh_keys) keys += k + "\n";
            // PVE wants sshkeys URL-encoded inside the (also encoded) form.
            p.emplace_back("sshkeys", url_encode(keys));
        }
    }
    return p;
}

}  // namespace

proxmox_driver::proxmox_driver(proxmox_options options)
    : client_(std::move(options)), node_(client_.options().node) {}

std::string proxmox_driver::base(const guest_ref& g) const {
    return "/nodes/" + node_ + "/" + g.type + "/" + std::to_string(g.vmid);
}

result<proxmox_driver::guest_ref> proxmox_driver::resolve(const std::string& vm) {
    const bool by_uuid = valid_uuid(vm);
    if (by_uuid) {
        std::optional<guest_ref> cached;
        {
            std::lock_guard lock(mutex_);
            if (const auto it = known_.find(vm); it != known_.end()) cached = it->second;
        }
        if (cached && cached->type == "qemu") {
            auto conf = client_.get(base(*cached) + "/config");
            if (conf && property(text_of(conf->value("smbios1", json())), "uuid") == vm)
                return *cached;
        }
    }
    for (const std::string type : {"qemu", "lxc"}) {
        auto list = client_.get("/nodes/" + node_ + "/" + type);
        if (!list) return list.error();
        for (const auto& entry : *list) {
            const int vmid = static_cast<int>(field(entry, "vmid"));
            const guest_ref g{vmid, type};
            if (!by_uuid) {
                if (text_of(entry.value("name", json())) == pve_name(vm)) return g;
                continue;
            }
            std::string uuid;
            if (type == "lxc") {
                uuid = derived_uuid(node_, type, vmid);
            } else {
                auto conf = client_.get(base(g) + "/config");
                if (!conf) continue;  // deleted meanwhile
                uuid = property(text_of(conf->value("smbios1", json())), "uuid");
            }
            if (uuid.empty()) continue;
            {
                std::lock_guard lock(mutex_);
                known_[uuid] = g;
            }
            if (uuid == vm) return g;
        }
    }
    return error{errc::not_found, "no VM '" + vm + "' on Proxmox VE node '" + node_ + "'"};
}

result<int> proxmox_driver::resolve_template(const std::string& name_or_vmid) {
    auto list = client_.get("/nodes/" + node_ + "/qemu");
    if (!list) return list.error();
    const bool numeric =
        !name_or_vmid.empty() && std::all_of(name_or_vmid.begin(), name_or_vmid.end(), [](char c) {
            return std::isdigit(static_cast<unsigned char>(c));
        });
    for (const auto& entry : *list) {
        if (field(entry, "template") != 1) continue;
        const int vmid = static_cast<int>(field(entry, "vmid"));
        if ((numeric && std::to_string(vmid) == name_or_vmid) ||
            text_of(entry.value("name", json())) == name_or_vmid)
            return vmid;
    }
    return error{errc::not_found,
                 "no template '" + name_or_vmid + "' on Proxmox VE node '" + node_ + "'"};
}

result<vm_status> proxmox_driver::status_of(const guest_ref& g) {
    auto conf = client_.get(base(g) + "/config");
    if (!conf) return conf.error();
    auto current = client_.get(base(g) + "/status/current");
    if (!current) return current.error();
    vm_status out;
    if (g.type == "qemu") {
        out.uuid = property(text_of(conf->value("smbios1", json())), "uuid");
        out.name = text_of(conf->value("name", json()));
    } else {
        out.uuid = derived_uuid(node_, g.type, g.vmid);
        out.name = text_of(conf->value("hostname", json()));
    }
    out.state = state_of(text_of(current->value("status", json())));
    out.config_hash = text_of(conf->value("digest", json()));
    if (!out.uuid.empty()) {
        std::lock_guard lock(mutex_);
        known_[out.uuid] = g;
    }
    return out;
}

result<std::string> proxmox_driver::root_disk(const guest_ref& g) {
    auto conf = client_.get(base(g) + "/config");
    if (!conf) return conf.error();
    for (const auto& key : {std::string("scsi0"), std::string("virtio0"), std::string("sata0"),
                            std::string("ide0")}) {
        if (conf->contains(key) && text_of((*conf)[key]).find("media=cdrom") == std::string::npos)
            return key;
    }
    for (const auto& [key, value] : conf->items()) {
        if (is_disk_key(key) && text_of(value).find("media=cdrom") == std::string::npos) return key;
    }
    return error{errc::not_found, "VM " + std::to_string(g.vmid) + " has no disk"};
}

result<void> proxmox_driver::grow_disk(const guest_ref& g, const std::string& disk,
                                       std::uint64_t bytes) {
    auto conf = client_.get(base(g) + "/config");
    if (!conf) return conf.error();
    const auto current = size_bytes(property(text_of(conf->value(disk, json())), "size"));
    if (bytes == current) return {};
    if (bytes < current) {
        return error{errc::invalid_argument,
                     "disk " + disk + " is " + size_text(current) + "; disks only grow"};
    }
    return client_.run(
        client_.put(base(g) + "/resize", {{"disk", disk}, {"size", size_text(bytes)}}));
}

result<void> proxmox_driver::clone_into(int template_vmid, int newid, const std::string& name,
                                        bool full) {
    return client_.run(client_.post(
        "/nodes/" + node_ + "/qemu/" + std::to_string(template_vmid) + "/clone",
        {{"newid", std::to_string(newid)}, {"name", name}, {"full", full ? "1" : "0"}}));
}

result<vm_status> proxmox_driver::define(const vm_spec& spec) {
    if (auto valid = validate(spec); !valid) return valid.error();
    const auto& root = spec.disks[0];
    auto existing = resolve(spec.uuid);
    if (existing) {
        const guest_ref g = *existing;
        auto conf = client_.get(base(g) + "/config");
        if (!conf) return conf.error();
        if (auto r = client_.put(base(g) + "/config", config_params(spec, *conf)); !r)
            return r.error();
        if (root.size_bytes) {
            auto disk = root_disk(g);
            if (!disk) return disk.error();
            if (auto r = grow_disk(g, *disk, root.size_bytes); !r) return r.error();
        }
        return status_of(g);
    }
    if (existing.error().code != errc::not_found) return existing.error();
    if (auto other = resolve(pve_name(spec.name)); other) {
        return error{errc::name_clash, "another VM on Proxmox VE node '" + node_ +
                                           "' is already named '" + pve_name(spec.name) + "'"};
    }
    if (!root.image) {
        return error{errc::unsupported,
                     "the Proxmox VE driver creates VMs from templates: disks[0].image is "
                     "required"};
    }
    auto tpl = resolve_template(root.image->volume);
    if (!tpl) return tpl.error();
    auto next = client_.get("/cluster/nextid");
    if (!next) return next.error();
    const int vmid = static_cast<int>(number_of(*next));
    if (auto r = clone_into(*tpl, vmid, pve_name(spec.name), root.clone == clone_mode::copy); !r)
        return r.error();
    const guest_ref g{vmid, "qemu"};
    auto finish = [&]() -> result<vm_status> {
        auto conf = client_.get(base(g) + "/config");
        if (!conf) return conf.error();
        if (auto r = client_.put(base(g) + "/config", config_params(spec, *conf)); !r)
            return r.error();
        if (root.size_bytes) {
            auto disk = root_disk(g);
            if (!disk) return disk.error();
            if (auto r = grow_disk(g, *disk, root.size_bytes); !r) return r.error();
        }
        return status_of(g);
    };
    auto done = finish();
    if (!done) {
        // Leave nothing half made behind.
        (void)client_.run(
            client_.del(base(g), {{"purge", "1"}, {"destroy-unreferenced-disks", "1"}}));
    }
    return done;
}

result<vm_status> proxmox_driver::power(const std::string& vm, const std::string& action,
                                        bool needs_running) {
    auto g = resolve(vm);
    if (!g) return g.error();
    auto st = status_of(*g);
    if (!st) return st;
    if (needs_running && st->state != "running") {
        return error{errc::invalid_state, "VM '" + vm + "' is not running"};
    }
    if (action == "start" && st->state == "running") return st;
    if (action == "stop" && st->state == "shutoff") return st;
    if (auto r = client_.run(client_.post(base(*g) + "/status/" + action)); !r) return r.error();
    return status_of(*g);
}

result<vm_status> proxmox_driver::start(const std::string& vm) { return power(vm, "start", false); }
result<vm_status> proxmox_driver::stop(const std::string& vm) { return power(vm, "stop", false); }
result<vm_status> proxmox_driver::reboot(const std::string& vm) {
    return power(vm, "reboot", true);
}
result<vm_status> proxmox_driver::reset(const std::string& vm) {
    auto g = resolve(vm);
    if (!g) return g.error();
    if (g->type == "lxc") return error{errc::unsupported, "containers have no reset"};
    return power(vm, "reset", true);
}

result<shutdown_outcome> proxmox_driver::shutdown(const std::string& vm,
                                                  std::chrono::milliseconds timeout) {
    auto g = resolve(vm);
    if (!g) return g.error();
    auto st = status_of(*g);
    if (!st) return st.error();
    if (st->state == "shutoff") return shutdown_outcome{*st, false};
    const auto seconds = std::max<long long>(1, (timeout.count() + 999) / 1000);
    auto done = client_.run(
        client_.post(base(*g) + "/status/shutdown", {{"timeout", std::to_string(seconds)}}),
        std::chrono::seconds(seconds) + std::chrono::seconds(30));
    bool forced = false;
    if (!done) {
        if (done.error().code != errc::timeout) return done.error();
        // The guest ignored ACPI: power it off.
        if (auto r = client_.run(client_.post(base(*g) + "/status/stop")); !r) return r.error();
        forced = true;
    }
    auto after = status_of(*g);
    if (!after) return after.error();
    return shutdown_outcome{*after, forced};
}

result<void> proxmox_driver::undefine(const std::string& vm, bool keep_volumes) {
    if (keep_volumes) {
        return error{errc::unsupported,
                     "Proxmox VE destroys a VM's disks with it; keeping them is not supported"};
    }
    auto g = resolve(vm);
    if (!g) return g.error();
    auto st = status_of(*g);
    if (!st) return st.error();
    if (st->state != "shutoff") {
        if (auto r = client_.run(client_.post(base(*g) + "/status/stop")); !r) return r;
    }
    if (auto r = client_.run(
            client_.del(base(*g), {{"purge", "1"}, {"destroy-unreferenced-disks", "1"}}));
        !r)
        return r;
    std::lock_guard lock(mutex_);
    known_.erase(st->uuid);
    return {};
}

result<change_outcome> proxmox_driver::resize(const std::string& vm, const resize_spec& spec) {
    auto g = resolve(vm);
    if (!g) return g.error();
    auto before = status_of(*g);
    if (!before) return before.error();
    change_outcome out;
    pve_params p;
    if (spec.vcpus) p.emplace_back("cores", std::to_string(*spec.vcpus));
    if (spec.memory_mib) p.emplace_back("memory", std::to_string(*spec.memory_mib));
    for (const auto& [index, bytes] : spec.disk_bytes) {
        if (index != 0) {
            return error{errc::invalid_argument,
                         "the Proxmox VE driver resizes the root disk (index 0) only"};
        }
        (void)bytes;
    }
    if (!p.empty()) {
        if (auto r = client_.put(base(*g) + "/config", p); !r) return r.error();
        if (before->state == "running") {
            if (spec.vcpus) out.pending_restart.push_back("vcpus: applies at the next start");
            if (spec.memory_mib) {
                out.pending_restart.push_back("memory_mib: applies at the next start");
            }
        }
    }
    if (const auto it = spec.disk_bytes.find(0); it != spec.disk_bytes.end()) {
        auto disk = root_disk(*g);
        if (!disk) return disk.error();
        if (auto r = grow_disk(*g, *disk, it->second); !r) return r.error();
    }
    auto after = status_of(*g);
    if (!after) return after.error();
    out.vm = *after;
    return out;
}

result<vm_status> proxmox_driver::reinstall(const std::string& vm, const reinstall_spec& spec) {
    auto g = resolve(vm);
    if (!g) return g.error();
    if (g->type != "qemu") return error{errc::unsupported, "containers cannot be reinstalled"};
    auto conf = client_.get(base(*g) + "/config");
    if (!conf) return conf.error();
    auto tpl = resolve_template(spec.image.volume);
    if (!tpl) return tpl.error();
    auto disk = root_disk(*g);
    if (!disk) return disk.error();
    const auto old_size = size_bytes(property(text_of(conf->value(*disk, json())), "size"));
    pve_params keep;
    for (const auto& [key, value] : conf->items()) {
        if (key == "smbios1" || key == "net0" || key == "cores" || key == "memory" ||
            key == "sockets" || key.starts_with("ipconfig") || key == "nameserver" ||
            key == "searchdomain" || key == "ciuser" || key == "sshkeys" || key == "description")
            keep.emplace_back(key, text_of(value));
    }
    if (spec.cloud_init && !spec.cloud_init->users.empty()) {
        const auto& user = spec.cloud_init->users[0];
        std::erase_if(keep,
                      [](const auto& kv) { return kv.first == "ciuser" || kv.first == "sshkeys"; });
        keep.emplace_back("ciuser", user.name);
        if (user.password_hash) keep.emplace_back("cipassword", *user.password_hash);
        if (!user.ssh_keys.empty()) {
            std::string keys;
            for (const auto& k : user.ssh_keys) keys += k + "\n";
            keep.emplace_back("sshkeys", url_encode(keys));
        }
    }
    const std::string name = text_of(conf->value("name", json()));
    auto st = status_of(*g);
    if (!st) return st.error();
    if (st->state != "shutoff") {
        if (auto r = client_.run(client_.post(base(*g) + "/status/stop")); !r) return r.error();
    }
    if (auto r = client_.run(
            client_.del(base(*g), {{"purge", "1"}, {"destroy-unreferenced-disks", "1"}}));
        !r)
        return r.error();
    if (auto r = clone_into(*tpl, g->vmid, name, spec.clone == clone_mode::copy); !r)
        return r.error();
    if (auto r = client_.put(base(*g) + "/config", keep); !r) return r.error();
    auto new_disk = root_disk(*g);
    if (!new_disk) return new_disk.error();
    if (auto r = grow_disk(*g, *new_disk, spec.size_bytes.value_or(old_size)); !r) return r.error();
    if (spec.start) {
        if (auto r = client_.run(client_.post(base(*g) + "/status/start")); !r) return r.error();
    }
    return status_of(*g);
}

result<change_outcome> proxmox_driver::set_limits(const std::string&, const vm_limits&) {
    return error{errc::unsupported, "limits are not supported by the Proxmox VE driver yet"};
}

result<snapshot_info> proxmox_driver::create_snapshot(const std::string& vm,
                                                      const std::string& name,
                                                      const std::string& description) {
    auto g = resolve(vm);
    if (!g) return g.error();
    auto st = status_of(*g);
    if (!st) return st.error();
    pve_params p = {{"snapname", name}};
    if (!description.empty()) p.emplace_back("description", description);
    // With the RAM of a running guest, so that a rollback brings it back running.
    if (st->state == "running") p.emplace_back("vmstate", "1");
    if (auto r = client_.run(client_.post(base(*g) + "/snapshot", p)); !r) return r.error();
    auto list = list_snapshots(vm);
    if (!list) return list.error();
    for (const auto& s : *list) {
        if (s.name == name) return s;
    }
    return error{errc::failed, "snapshot '" + name + "' missing after it was taken"};
}

result<std::vector<snapshot_info>> proxmox_driver::list_snapshots(const std::string& vm) {
    auto g = resolve(vm);
    if (!g) return g.error();
    auto list = client_.get(base(*g) + "/snapshot");
    if (!list) return list.error();
    std::string current_parent;
    for (const auto& entry : *list) {
        if (text_of(entry.value("name", json())) == "current")
            current_parent = text_of(entry.value("parent", json()));
    }
    std::vector<snapshot_info> out;
    for (const auto& entry : *list) {
        snapshot_info s;
        s.name = text_of(entry.value("name", json()));
        if (s.name == "current") continue;
        s.description = text_of(entry.value("description", json()));
        s.state = field(entry, "vmstate") ? "running" : "shutoff";
        s.created_at = static_cast<std::int64_t>(field(entry, "snaptime"));
        if (entry.contains("parent")) s.parent = text_of(entry["parent"]);
        s.current = s.name == current_parent;
        out.push_back(std::move(s));
    }
    return out;
}

result<vm_status> proxmox_driver::revert_snapshot(const std::string& vm, const std::string& name) {
    auto g = resolve(vm);
    if (!g) return g.error();
    if (auto r =
            client_.run(client_.post(base(*g) + "/snapshot/" + url_encode(name) + "/rollback"));
        !r)
        return r.error();
    return status_of(*g);
}

result<void> proxmox_driver::delete_snapshot(const std::string& vm, const std::string& name) {
    auto g = resolve(vm);
    if (!g) return g.error();
    return client_.run(client_.del(base(*g) + "/snapshot/" + url_encode(name)));
}

result<console_ticket> proxmox_driver::console(const std::string& vm,
                                               std::chrono::seconds valid_for) {
    auto g = resolve(vm);
    if (!g) return g.error();
    auto st = status_of(*g);
    if (!st) return st.error();
    if (st->state != "running") {
        return error{errc::invalid_state, "VM '" + vm + "' is not running: no console"};
    }
    auto answer = client_.post(base(*g) + "/vncproxy", {{"websocket", "1"}});
    if (!answer) return answer.error();
    console_ticket out;
    out.host = client_.host();
    out.port = static_cast<int>(field(*answer, "port"));
    out.password = text_of(answer->value("ticket", json()));
    out.expires_at = std::chrono::duration_cast<std::chrono::seconds>(
                         (std::chrono::system_clock::now() + valid_for).time_since_epoch())
                         .count();
    if (out.port == 0 || out.password.empty()) {
        return error{errc::failed, "Proxmox VE vncproxy answered no port or ticket"};
    }
    return out;
}

result<void> proxmox_driver::set_password(const std::string& vm, const std::string& user,
                                          const std::string& password, bool) {
    auto g = resolve(vm);
    if (!g) return g.error();
    // Through cloud-init: the guest takes it at its next boot.
    auto r = client_.put(base(*g) + "/config", {{"ciuser", user}, {"cipassword", password}});
    if (!r) return r.error();
    return {};
}

result<void> proxmox_driver::set_ssh_keys(const std::string& vm, const std::string& user,
                                          const std::vector<std::string>& keys) {
    auto g = resolve(vm);
    if (!g) return g.error();
    std::string joined;
    for (const auto& k : keys) joined += k + "\n";
    pve_params p = {{"ciuser", user}};
    if (joined.empty()) {
        p.emplace_back("delete", "sshkeys");
    } else {
        p.emplace_back("sshkeys", url_encode(joined));
    }
    auto r = client_.put(base(*g) + "/config", p);
    if (!r) return r.error();
    return {};
}

result<firewall_outcome> proxmox_driver::firewall(const std::string&, const firewall_spec&) {
    return error{errc::unsupported, "the Proxmox VE driver does not manage firewalls yet"};
}

result<host_facts> proxmox_driver::facts() {
    auto status = client_.get("/nodes/" + node_ + "/status");
    if (!status) return status.error();
    host_facts out;
    out.hostname = node_;
    const json cpu = status->value("cpuinfo", json::object());
    out.cpu_model = text_of(cpu.value("model", json()));
    out.cpus = static_cast<unsigned>(field(cpu, "cpus"));
    out.cpu_mhz = static_cast<unsigned>(field(cpu, "mhz"));
    out.memory_bytes = field(status->value("memory", json::object()), "total");
    for (const std::string type : {"qemu", "lxc"}) {
        auto list = client_.get("/nodes/" + node_ + "/" + type);
        if (!list) return list.error();
        for (const auto& entry : *list) {
            if (field(entry, "template") == 1) continue;
            ++out.domains_by_state[state_of(text_of(entry.value("status", json())))];
        }
    }
    return out;
}

result<std::vector<vm_status>> proxmox_driver::inventory() {
    std::vector<vm_status> out;
    for (const std::string type : {"qemu", "lxc"}) {
        auto list = client_.get("/nodes/" + node_ + "/" + type);
        if (!list) return list.error();
        for (const auto& entry : *list) {
            if (field(entry, "template") == 1) continue;
            const guest_ref g{static_cast<int>(field(entry, "vmid")), type};
            auto conf = client_.get(base(g) + "/config");
            if (!conf) {
                if (conf.error().code == errc::not_found) continue;  // deleted meanwhile
                return conf.error();
            }
            vm_status s;
            if (type == "qemu") {
                s.uuid = property(text_of(conf->value("smbios1", json())), "uuid");
                s.name = text_of(conf->value("name", json()));
            } else {
                s.uuid = derived_uuid(node_, type, g.vmid);
                s.name = text_of(conf->value("hostname", json()));
            }
            if (s.uuid.empty()) s.uuid = derived_uuid(node_, type, g.vmid);
            s.state = state_of(text_of(entry.value("status", json())));
            s.config_hash = text_of(conf->value("digest", json()));
            {
                std::lock_guard lock(mutex_);
                known_[s.uuid] = g;
            }
            out.push_back(std::move(s));
        }
    }
    return out;
}

result<stats_sample> proxmox_driver::stats() {
    stats_sample out;
    out.at = std::chrono::system_clock::now();
    auto status = client_.get("/nodes/" + node_ + "/status");
    if (!status) return status.error();
    const json memory = status->value("memory", json::object());
    out.host.memory_total_bytes = field(memory, "total");
    out.host.memory_free_bytes = field(memory, "free");
    auto vms = inventory();
    if (!vms) return vms.error();
    for (const std::string type : {"qemu", "lxc"}) {
        auto list = client_.get("/nodes/" + node_ + "/" + type);
        if (!list) return list.error();
        for (const auto& entry : *list) {
            if (field(entry, "template") == 1) continue;
            const int vmid = static_cast<int>(field(entry, "vmid"));
            vm_stats s;
            {
                std::lock_guard lock(mutex_);
                for (const auto& [uuid, g] : known_) {
                    if (g.vmid == vmid && g.type == type) s.uuid = uuid;
                }
            }
            s.name = text_of(entry.value("name", json()));
            s.state = state_of(text_of(entry.value("status", json())));
            s.vcpus = static_cast<std::uint32_t>(field(entry, "cpus"));
            s.memory_bytes = field(entry, "mem");
            s.max_memory_bytes = field(entry, "maxmem");
            s.disk_read_bytes = field(entry, "diskread");
            s.disk_write_bytes = field(entry, "diskwrite");
            s.net_rx_bytes = field(entry, "netin");
            s.net_tx_bytes = field(entry, "netout");
            if (type == "qemu" && s.state == "running") {
                // PVE keeps no cumulative CPU time; the hour's RRD (one point a minute) gives it.
                auto rrd = client_.get(base({vmid, type}) + "/rrddata", {{"timeframe", "hour"}});
                if (rrd && rrd->is_array()) {
                    double seconds = 0;
                    for (const auto& point : *rrd) {
                        if (point.contains("cpu") && point["cpu"].is_number()) {
                            seconds += point["cpu"].get<double>() *
                                       static_cast<double>(field(point, "maxcpu")) * 60.0;
                        }
                    }
                    s.cpu_time_ns = static_cast<std::uint64_t>(std::llround(seconds * 1e9));
                }
            }
            out.vms.push_back(std::move(s));
        }
    }
    return out;
}

void proxmox_driver::on_event(event_handler handler) {
    std::lock_guard lock(mutex_);
    handler_ = std::move(handler);
}

}  // namespace vpsfleet::agent::proxmox
