// The fake Proxmox VE node's guests: QEMU (list, create, clone, config, resize, power,
// snapshots, vncproxy, rrddata, delete) and LXC (list, config, status, power).
#include "tests/fakes/fake_proxmox_impl.hpp"

#include <algorithm>
#include <regex>

namespace vpsfleet::testing {

fake_response fake_proxmox::impl::qemu(const fake_request& req,
                                       const std::vector<std::string>& rest, const params& p,
                                       const std::string& user) {
    const auto method = req.method();
    if (rest.size() == 1) {
        if (method == http::verb::get) {
            json list = json::array();
            for (const auto& [vmid, g] : guests) {
                if (g.type == "qemu") list.push_back(status_json(g));
            }
            return ok(list);
        }
        if (method == http::verb::post) {
            check_params(p, {"vmid", "name", "cores", "memory", "sockets", "netN", "scsiN",
                             "smbios1", "ostype", "description", "start"});
            require(p, "vmid");
            const int vmid = parse_vmid(p.at("vmid"));
            check_dns_name(p, "name");
            if (guests.contains(vmid)) {
                throw server_error("unable to create VM " + std::to_string(vmid) + " - VM " +
                                   std::to_string(vmid) + " already exists on node '" +
                                   options.node + "'");
            }
            guest g;
            g.vmid = vmid;
            g.type = "qemu";
            g.conf = {{"name", "VM" + std::to_string(vmid)},
                      {"memory", "512"},
                      {"cores", "1"},
                      {"smbios1", "uuid=" + new_uuid()}};
            for (const auto& [k, v] : p) {
                if (k != "vmid" && k != "start") g.conf[k] = v;
            }
            g.conf["lock"] = "create";
            guests[vmid] = g;
            return ok(start_task("qmcreate", std::to_string(vmid), user, [this, vmid] {
                guests.at(vmid).conf.erase("lock");
                return std::optional<std::string>();
            }));
        }
        throw answer_error{501, "Method not implemented", nullptr};
    }
    const int vmid = parse_vmid(rest[1]);
    guest& g = find(vmid, "qemu");
    const std::string id = std::to_string(vmid);
    const std::vector<std::string> tail(rest.begin() + 2, rest.end());

    if (tail.empty() && method == http::verb::delete_) {
        ++calls.deletes;
        check_params(p, {"purge", "destroy-unreferenced-disks", "skiplock"});
        boolean(p, "purge", false);
        if (g.running) throw server_error("VM " + id + " is running - destroy failed");
        if (g.conf.contains("lock")) throw server_error("VM is locked (" + g.conf.at("lock") + ")");
        g.conf["lock"] = "destroyed";
        return ok(start_task("qmdestroy", id, user, [this, vmid] {
            guests.erase(vmid);
            return std::optional<std::string>();
        }));
    }
    if (tail == std::vector<std::string>{"clone"} && method == http::verb::post) {
        ++calls.clones;
        check_params(p, {"newid", "name", "full", "description", "target", "storage", "pool",
                         "snapname", "format"});
        require(p, "newid");
        const int newid = parse_vmid(p.at("newid"), "newid");
        check_dns_name(p, "name");
        const bool is_template = g.conf.contains("template");
        // As PVE: linked clones only from templates; a normal VM is always copied in full.
        const bool full = is_template ? boolean(p, "full", false) : true;
        if (guests.contains(newid)) {
            throw server_error("unable to create VM " + std::to_string(newid) +
                               ": config file already exists");
        }
        if (g.conf.contains("lock")) throw server_error("VM is locked (" + g.conf.at("lock") + ")");
        guest copy;
        copy.vmid = newid;
        copy.type = "qemu";
        copy.conf = g.conf;
        copy.conf.erase("template");
        copy.conf["name"] = p.contains("name") ? p.at("name") : "Copy-of-VM-" + g.conf["name"];
        copy.conf["smbios1"] = "uuid=" + new_uuid();
        if (p.contains("description")) copy.conf["description"] = p.at("description");
        const std::string new_id = std::to_string(newid);
        for (auto& [key, value] : copy.conf) {
            if (value.find("cloudinit") != std::string::npos) {
                value =
                    value.substr(0, value.find(':')) + ":vm-" + new_id + "-cloudinit,media=cdrom";
            } else if (is_disk_key(key) && value.find("media=cdrom") == std::string::npos) {
                const auto colon = value.find(':');
                const auto comma = value.find(',');
                const std::string storage = value.substr(0, colon);
                const std::string volume = value.substr(colon + 1, comma - colon - 1);
                const std::string own = "vm-" + new_id + "-disk-0";
                value = storage + ":" + (full ? own : volume + "/" + own) + value.substr(comma);
            } else if (key.starts_with("net")) {
                const auto eq = value.find('=');
                const auto comma = value.find(',');
                value = value.substr(0, eq + 1) + new_mac() + value.substr(comma);
            }
        }
        copy.conf["lock"] = "clone";
        guests[newid] = copy;
        const std::string upid = start_task("qmclone", id, user, [this, newid] {
            guests.at(newid).conf.erase("lock");
            return std::optional<std::string>();
        });
        tasks.back().on_failure = [this, newid] { guests.erase(newid); };
        return ok(upid);
    }
    if (tail == std::vector<std::string>{"config"}) {
        if (method == http::verb::get) {
            check_params(p, {"current", "snapshot"});
            return ok(config_json(g));
        }
        if (method == http::verb::post || method == http::verb::put) {
            return write_config(g, p, method == http::verb::post, user);
        }
    }
    if (tail == std::vector<std::string>{"resize"} && method == http::verb::put) {
        ++calls.resizes;
        check_params(p, {"disk", "size", "digest", "skiplock"});
        require(p, "disk");
        require(p, "size");
        const std::string disk = p.at("disk");
        if (!g.conf.contains(disk) || !is_disk_key(disk)) {
            throw server_error("disk '" + disk + "' does not exist");
        }
        std::string size = p.at("size");
        const bool grow = size.starts_with("+");
        const auto amount = parse_size(grow ? size.substr(1) : size);
        if (!amount) {
            throw bad_params({{"size", "value does not match the regex pattern"}});
        }
        const auto old = parse_size(property(g.conf.at(disk), "size")).value_or(0);
        const std::uint64_t wanted = grow ? old + *amount : *amount;
        if (wanted < old) throw server_error("shrinking disks is not supported");
        return ok(start_task("resize", id, user, [this, vmid, disk, wanted] {
            auto& conf = guests.at(vmid).conf;
            conf[disk] = with_property(conf[disk], "size", format_size(wanted));
            return std::optional<std::string>();
        }));
    }
    if (tail.size() == 2 && tail[0] == "status") {
        if (tail[1] == "current" && method == http::verb::get) return ok(status_json(g));
        if (method == http::verb::post) return power(g, tail[1], p, user);
    }
    if (!tail.empty() && tail[0] == "snapshot") return snapshots(req, g, tail, p, user);
    if (tail == std::vector<std::string>{"vncproxy"} && method == http::verb::post) {
        ++calls.vncproxy;
        check_params(p, {"websocket", "generate-password"});
        const int port = static_cast<int>(vnc_port++);
        if (vnc_port > 5999) vnc_port = 5900;
        json out = {{"port", std::to_string(port)},
                    {"ticket", "PVEVNC:" + hex_bytes(4) + "::" + hex_bytes(32)},
                    {"cert", server->ca_pem()},
                    {"user", user},
                    {"upid", start_task("vncproxy", id, user, {})}};
        if (boolean(p, "generate-password", false)) out["password"] = hex_bytes(4);
        return ok(out);
    }
    if (tail == std::vector<std::string>{"rrddata"} && method == http::verb::get) {
        check_params(p, {"timeframe", "cf"});
        require(p, "timeframe");
        static const std::set<std::string> frames = {"hour", "day", "week", "month", "year"};
        if (!frames.contains(p.at("timeframe"))) {
            throw bad_params({{"timeframe", "value '" + p.at("timeframe") +
                                                "' does not have a value in the enumeration "
                                                "'hour, day, week, month, year'"}});
        }
        const auto s = status_json(g);
        json points = json::array();
        const std::int64_t now = unix_now() / 60 * 60;
        for (int i = 69; i >= 0; --i) {
            json point = {{"time", now - i * 60}, {"maxcpu", s["cpus"]}, {"maxmem", s["maxmem"]}};
            if (g.running && i < 3) {
                point["cpu"] = 0.02;
                point["mem"] = s["mem"];
                point["netin"] = 25.0;
                point["netout"] = 15.0;
                point["diskread"] = 68.3;
                point["diskwrite"] = 136.5;
            }
            points.push_back(point);
        }
        return ok(points);
    }
    throw answer_error{501, "Method '" + std::string(req.method_string()) + "' not implemented",
                       nullptr};
}

fake_response fake_proxmox::impl::write_config(guest& g, const params& p, bool async,
                                               const std::string& user) {
    ++calls.config_writes;
    check_params(p, {"cores",       "sockets",      "memory",     "balloon",  "name",
                     "description", "ciuser",       "cipassword", "sshkeys",  "ipconfigN",
                     "nameserver",  "searchdomain", "netN",       "smbios1",  "onboot",
                     "agent",       "delete",       "digest",     "skiplock", "cpulimit"});
    if (p.contains("cores")) integer(p, "cores", 1);
    if (p.contains("sockets")) integer(p, "sockets", 1);
    if (p.contains("memory")) integer(p, "memory", 16);
    check_dns_name(p, "name");
    if (const auto it = p.find("sshkeys"); it != p.end()) {
        // PVE wants the keys URL-encoded (again, inside the form encoding).
        static const std::regex urlencoded(R"(^[-%a-zA-Z0-9_.!~*'()]*$)");
        if (!std::regex_match(it->second, urlencoded)) {
            throw bad_params(
                {{"sshkeys", "invalid format - invalid urlencoded string: " + it->second}});
        }
    }
    for (const auto& [key, value] : p) {
        if (key.starts_with("ipconfig")) {
            static const std::regex ipconfig(
                R"(^((ip=(dhcp|[0-9.]+/\d+)|gw=[0-9.]+|ip6=(auto|dhcp|[0-9a-fA-F:]+/\d+)|gw6=[0-9a-fA-F:]+)(,|$))+$)");
            if (!std::regex_match(value, ipconfig)) {
                throw bad_params({{key, "invalid format - format error"}});
            }
        }
        if (key == "smbios1") {
            static const std::regex uuid(
                R"(^uuid=[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$)");
            if (!std::regex_match(value, uuid)) {
                throw bad_params({{key, "invalid format - format error"}});
            }
        }
    }
    if (const auto it = p.find("digest"); it != p.end() && it->second != digest(g)) {
        throw server_error(
            "detected modified configuration - file changed by other user? Try "
            "again.");
    }
    if (g.conf.contains("lock") && !boolean(p, "skiplock", false)) {
        throw server_error("VM is locked (" + g.conf.at("lock") + ")");
    }
    const int vmid = g.vmid;
    auto apply = [this, vmid, p] {
        auto& conf = guests.at(vmid).conf;
        for (const auto& [key, value] : p) {
            if (key == "delete" || key == "digest" || key == "skiplock") continue;
            conf[key] = value;
        }
        if (const auto it = p.find("delete"); it != p.end()) {
            std::string list = it->second;
            std::size_t pos = 0;
            while (pos <= list.size()) {
                const auto comma = list.find_first_of(",; ", pos);
                conf.erase(
                    list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
                if (comma == std::string::npos) break;
                pos = comma + 1;
            }
        }
        return std::optional<std::string>();
    };
    if (!async) {
        apply();
        return ok(nullptr);
    }
    return ok(start_task("qmconfig", std::to_string(vmid), user, apply));
}

fake_response fake_proxmox::impl::power(guest& g, const std::string& action, const params& p,
                                        const std::string& user) {
    const bool is_lxc = g.type == "lxc";
    static const std::set<std::string> qemu_actions = {"start", "shutdown", "stop", "reboot",
                                                       "reset"};
    static const std::set<std::string> lxc_actions = {"start", "shutdown", "stop", "reboot"};
    if (!(is_lxc ? lxc_actions : qemu_actions).contains(action)) {
        throw answer_error{501, "Method 'POST status/" + action + "' not implemented", nullptr};
    }
    ++calls.power;
    check_params(p, {"timeout", "forceStop", "keepActive", "skiplock", "overrule-shutdown"});
    const std::string id = std::to_string(g.vmid);
    if (g.conf.contains("template") && action == "start") {
        throw server_error("you can't start a vm if it's a template");
    }
    const int vmid = g.vmid;
    std::optional<clock::duration> duration;
    std::function<std::optional<std::string>()> fx;
    if (action == "start") {
        fx = [this, vmid, id]() -> std::optional<std::string> {
            auto& x = guests.at(vmid);
            if (x.running) return "VM " + id + " already running";
            x.running = true;
            x.started_at = clock::now();
            return std::nullopt;
        };
    } else if (action == "shutdown") {
        const auto timeout = p.contains("timeout") ? integer(p, "timeout", 0) : 180;
        const bool force = boolean(p, "forceStop", false);
        if (g.running && g.ignore_acpi) duration = std::chrono::seconds(timeout);
        fx = [this, vmid, force]() -> std::optional<std::string> {
            auto& x = guests.at(vmid);
            if (x.running && x.ignore_acpi && !force)
                return "VM quit/powerdown failed - got timeout";
            x.running = false;
            return std::nullopt;
        };
    } else if (action == "stop") {
        fx = [this, vmid]() -> std::optional<std::string> {
            guests.at(vmid).running = false;
            return std::nullopt;
        };
    } else {  // reboot, reset
        fx = [this, vmid, id]() -> std::optional<std::string> {
            auto& x = guests.at(vmid);
            if (!x.running) return "VM " + id + " not running";
            x.started_at = clock::now();
            return std::nullopt;
        };
    }
    static const std::map<std::string, std::string> qemu_types = {{"start", "qmstart"},
                                                                  {"shutdown", "qmshutdown"},
                                                                  {"stop", "qmstop"},
                                                                  {"reboot", "qmreboot"},
                                                                  {"reset", "qmreset"}};
    static const std::map<std::string, std::string> lxc_types = {{"start", "vzstart"},
                                                                 {"shutdown", "vzshutdown"},
                                                                 {"stop", "vzstop"},
                                                                 {"reboot", "vzreboot"}};
    return ok(start_task((is_lxc ? lxc_types : qemu_types).at(action), id, user, fx, duration));
}

fake_response fake_proxmox::impl::snapshots(const fake_request& req, guest& g,
                                            const std::vector<std::string>& tail, const params& p,
                                            const std::string& user) {
    const auto method = req.method();
    const int vmid = g.vmid;
    const std::string id = std::to_string(vmid);
    if (tail.size() == 1 && method == http::verb::get) {
        json list = json::array();
        for (const auto& s : g.snapshots) {
            json item = {{"name", s.name},
                         {"description", s.description},
                         {"snaptime", s.snaptime},
                         {"vmstate", s.vmstate ? 1 : 0}};
            if (!s.parent.empty()) item["parent"] = s.parent;
            list.push_back(item);
        }
        json current = {
            {"name", "current"}, {"description", "You are here!"}, {"running", g.running ? 1 : 0}};
        if (!g.current_parent.empty()) current["parent"] = g.current_parent;
        list.push_back(current);
        return ok(list);
    }
    if (tail.size() == 1 && method == http::verb::post) {
        ++calls.snapshot_calls;
        check_params(p, {"snapname", "description", "vmstate"});
        require(p, "snapname");
        const std::string name = p.at("snapname");
        static const std::regex pattern(R"(^[A-Za-z][A-Za-z0-9_\-]{1,39}$)");
        if (!std::regex_match(name, pattern) || name == "current") {
            throw bad_params(
                {{"snapname", "invalid format - invalid configuration ID '" + name + "'"}});
        }
        for (const auto& s : g.snapshots) {
            if (s.name == name) throw server_error("snapshot name '" + name + "' already used");
        }
        const std::string description = p.contains("description") ? p.at("description") : "";
        const bool vmstate = boolean(p, "vmstate", false) && g.running;
        return ok(start_task("qmsnapshot", id, user, [this, vmid, name, description, vmstate] {
            auto& x = guests.at(vmid);
            x.snapshots.push_back(
                {name, description, unix_now(), x.current_parent, x.conf, vmstate});
            x.current_parent = name;
            return std::optional<std::string>();
        }));
    }
    if (tail.size() < 2) throw answer_error{501, "Method not implemented", nullptr};
    const std::string name = tail[1];
    const auto found = std::find_if(g.snapshots.begin(), g.snapshots.end(),
                                    [&](const snapshot& s) { return s.name == name; });
    if (found == g.snapshots.end()) throw server_error("snapshot '" + name + "' does not exist");
    if (tail.size() == 3 && tail[2] == "rollback" && method == http::verb::post) {
        ++calls.snapshot_calls;
        check_params(p, {"start"});
        return ok(start_task("qmrollback", id, user, [this, vmid, name] {
            auto& x = guests.at(vmid);
            for (const auto& s : x.snapshots) {
                if (s.name != name) continue;
                x.conf = s.conf;
                // Without saved RAM the guest is stopped; with it, it runs on from there.
                x.running = s.vmstate;
                if (s.vmstate) x.started_at = clock::now();
            }
            x.current_parent = name;
            return std::optional<std::string>();
        }));
    }
    if (tail.size() == 2 && method == http::verb::delete_) {
        ++calls.snapshot_calls;
        check_params(p, {"force"});
        return ok(start_task("qmdelsnapshot", id, user, [this, vmid, name] {
            auto& x = guests.at(vmid);
            const auto it = std::find_if(x.snapshots.begin(), x.snapshots.end(),
                                         [&](const snapshot& s) { return s.name == name; });
            if (it == x.snapshots.end())
                return std::optional<std::string>("snapshot '" + name + "' does not exist");
            const std::string parent = it->parent;
            x.snapshots.erase(it);
            for (auto& s : x.snapshots) {
                if (s.parent == name) s.parent = parent;
            }
            if (x.current_parent == name) x.current_parent = parent;
            return std::optional<std::string>();
        }));
    }
    if (tail.size() == 3 && tail[2] == "config" && method == http::verb::get) {
        json out = json::object();
        for (const auto& [k, v] : found->conf) out[k] = v;
        return ok(out);
    }
    throw answer_error{501, "Method not implemented", nullptr};
}

fake_response fake_proxmox::impl::lxc(const fake_request& req, const std::vector<std::string>& rest,
                                      const params& p, const std::string& user) {
    const auto method = req.method();
    if (rest.size() == 1 && method == http::verb::get) {
        json list = json::array();
        for (const auto& [vmid, g] : guests) {
            if (g.type == "lxc") list.push_back(status_json(g));
        }
        return ok(list);
    }
    if (rest.size() < 2) throw answer_error{501, "Method not implemented", nullptr};
    guest& g = find(parse_vmid(rest[1]), "lxc");
    const std::vector<std::string> tail(rest.begin() + 2, rest.end());
    if (tail == std::vector<std::string>{"config"} && method == http::verb::get) {
        return ok(config_json(g));
    }
    if (tail.size() == 2 && tail[0] == "status") {
        if (tail[1] == "current" && method == http::verb::get) return ok(status_json(g));
        if (method == http::verb::post) return power(g, tail[1], p, user);
    }
    throw answer_error{501, "Method not implemented", nullptr};
}

}  // namespace vpsfleet::testing
