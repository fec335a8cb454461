#include "tests/fakes/fake_proxmox.hpp"

#include "tests/fakes/fake_proxmox_impl.hpp"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cstdio>
#include <regex>

namespace vpsfleet::testing {

namespace fake_pve {

constexpr std::string_view k_prefix = "/api2/json";

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string hex_bytes(std::size_t n) {
    std::vector<unsigned char> raw(n);
    RAND_bytes(raw.data(), static_cast<int>(n));
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (const unsigned char c : raw) {
        out += digits[c >> 4];
        out += digits[c & 0xf];
    }
    return out;
}

std::string sha1_hex(const std::string& text) {
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha1(), nullptr);
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < length; ++i) {
        out += digits[digest[i] >> 4];
        out += digits[digest[i] & 0xf];
    }
    return out;
}

std::string new_uuid() {
    std::string h = hex_bytes(16);
    h[12] = '4';
    return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
           "-" + h.substr(20, 12);
}

std::string new_mac() {
    // BC:24:11 is the prefix Proxmox VE gives generated MACs.
    std::string h = hex_bytes(3);
    std::transform(h.begin(), h.end(), h.begin(), ::toupper);
    return "BC:24:11:" + h.substr(0, 2) + ":" + h.substr(2, 2) + ":" + h.substr(4, 2);
}

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+' && plus_is_space) {
            out += ' ';
        } else if (s[i] == '%') {
            if (i + 2 >= s.size()) return std::nullopt;
            unsigned value = 0;
            for (const char c : s.substr(i + 1, 2)) {
                value *= 16;
                if (c >= '0' && c <= '9') {
                    value += static_cast<unsigned>(c - '0');
                } else if (c >= 'a' && c <= 'f') {
                    value += static_cast<unsigned>(c - 'a' + 10);
                } else if (c >= 'A' && c <= 'F') {
                    value += static_cast<unsigned>(c - 'A' + 10);
                } else {
                    return std::nullopt;
                }
            }
            out += static_cast<char>(value);
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::optional<params> parse_form(std::string_view text) {
    params out;
    while (!text.empty()) {
        const auto amp = text.find('&');
        const std::string_view pair = text.substr(0, amp);
        text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
        if (pair.empty()) continue;
        const auto eq = pair.find('=');
        auto key = percent_decode(pair.substr(0, eq), true);
        auto value = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), true);
        if (!key || !value || key->empty()) return std::nullopt;
        out[*key] = *value;
    }
    return out;
}

// "10G", "512M", "1T", "1048576" -> bytes.
std::optional<std::uint64_t> parse_size(std::string_view s) {
    static const std::regex pattern(R"(^(\d+(?:\.\d+)?)([KMGT]?)$)");
    std::cmatch m;
    if (!std::regex_match(s.begin(), s.end(), m, pattern)) return std::nullopt;
    const double number = std::stod(m[1].str());
    const std::string unit = m[2].str();
    double factor = 1;
    if (unit == "K") factor = 1024.0;
    if (unit == "M") factor = 1024.0 * 1024;
    if (unit == "G") factor = 1024.0 * 1024 * 1024;
    if (unit == "T") factor = 1024.0 * 1024 * 1024 * 1024;
    return static_cast<std::uint64_t>(number * factor);
}

std::string format_size(std::uint64_t bytes) {
    constexpr std::uint64_t g = 1ull << 30;
    constexpr std::uint64_t m = 1ull << 20;
    if (bytes % g == 0) return std::to_string(bytes / g) + "G";
    if (bytes % m == 0) return std::to_string(bytes / m) + "M";
    return std::to_string(bytes / 1024) + "K";
}

// The value of `key=` in a Proxmox property string ("local-lvm:vm-101-disk-0,size=2G").
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

std::string with_property(const std::string& text, const std::string& key,
                          const std::string& value) {
    const std::string old = property(text, key);
    if (old.empty()) return text + "," + key + "=" + value;
    const auto at = text.find(key + "=" + old);
    return text.substr(0, at) + key + "=" + value + text.substr(at + key.size() + 1 + old.size());
}

bool is_disk_key(const std::string& key) {
    static const std::regex pattern(R"(^(scsi|virtio|sata|ide)\d+$)");
    return std::regex_match(key, pattern);
}

fake_response reply(unsigned status, const std::string& reason, const std::string& body) {
    fake_response res;
    res.version(11);
    res.result(status);
    res.reason(reason);
    res.set(http::field::server, "pve-api-daemon/3.0");
    res.set(http::field::cache_control, "max-age=0");
    if (!body.empty()) res.set(http::field::content_type, "application/json;charset=UTF-8");
    res.body() = body;
    return res;
}

fake_response ok(const json& data) { return reply(200, "OK", json{{"data", data}}.dump()); }

fake_response failure(const answer_error& e) {
    if (e.status == 401) return reply(401, e.reason, "");
    json body = {{"data", nullptr}, {"message", e.reason + "\n"}};
    if (!e.errors.is_null()) body["errors"] = e.errors;
    return reply(e.status, e.reason, body.dump());
}

answer_error bad_params(json errors) {
    return {400, "Parameter verification failed.", std::move(errors)};
}

answer_error server_error(const std::string& message) { return {500, message, nullptr}; }

// Refuses parameters outside `allowed`, like PVE's schema check.
void check_params(const params& p, const std::set<std::string>& allowed) {
    json errors = json::object();
    for (const auto& [key, value] : p) {
        bool known = allowed.contains(key);
        if (!known) {
            // Indexed families: net0..net31, ipconfig0.., scsi0..
            static const std::regex indexed(R"(^(net|ipconfig|scsi|virtio|ide|sata)\d+$)");
            std::smatch m;
            if (std::regex_match(key, m, indexed)) known = allowed.contains(m[1].str() + "N");
        }
        if (!known) {
            errors[key] =
                "property is not defined in schema and the schema does not allow additional "
                "properties";
        }
    }
    if (!errors.empty()) throw bad_params(errors);
}

int parse_vmid(const std::string& text, const std::string& param) {
    static const std::regex digits(R"(^\d{1,9}$)");
    if (!std::regex_match(text, digits)) {
        throw bad_params({{param, "type check ('integer') failed - got '" + text + "'"}});
    }
    const int vmid = std::stoi(text);
    if (vmid < 100) throw bad_params({{param, "invalid format - value must be at least 100"}});
    return vmid;
}

std::int64_t integer(const params& p, const std::string& key, std::int64_t min) {
    static const std::regex digits(R"(^-?\d{1,15}$)");
    const auto& text = p.at(key);
    if (!std::regex_match(text, digits)) {
        throw bad_params({{key, "type check ('integer') failed - got '" + text + "'"}});
    }
    const auto value = std::stoll(text);
    if (value < min) {
        throw bad_params({{key, "value must have a minimum value of " + std::to_string(min)}});
    }
    return value;
}

bool boolean(const params& p, const std::string& key, bool fallback) {
    const auto it = p.find(key);
    if (it == p.end()) return fallback;
    if (it->second == "1" || it->second == "true" || it->second == "yes" || it->second == "on")
        return true;
    if (it->second == "0" || it->second == "false" || it->second == "no" || it->second == "off")
        return false;
    throw bad_params({{key, "type check ('boolean') failed - got '" + it->second + "'"}});
}

void require(const params& p, const std::string& key) {
    if (!p.contains(key)) throw bad_params({{key, "property is missing and it is not optional"}});
}

void check_dns_name(const params& p, const std::string& key) {
    static const std::regex name(R"(^[A-Za-z0-9]([A-Za-z0-9\-]*[A-Za-z0-9])?(\.[A-Za-z0-9\-]+)*$)");
    const auto it = p.find(key);
    if (it != p.end() && !std::regex_match(it->second, name)) {
        throw bad_params({{key, "invalid format - value does not look like a valid DNS name"}});
    }
}

}  // namespace fake_pve

std::string fake_proxmox::impl::start_task(const std::string& type, const std::string& id,
                                           const std::string& user,
                                           std::function<std::optional<std::string>()> fx,
                                           std::optional<clock::duration> duration) {
    task t;
    t.type = type;
    t.id = id;
    t.user = user;
    t.pid = next_pid++;
    t.pstart = 0x3c1f00 + t.pid % 0x1000;
    t.starttime = unix_now();
    t.finishes_at = clock::now() + duration.value_or(options.task_duration);
    t.effect = std::move(fx);
    char buffer[256];
    std::snprintf(buffer, sizeof buffer, "UPID:%s:%08X:%08X:%08X:%s:%s:%s:", options.node.c_str(),
                  t.pid, t.pstart, static_cast<unsigned>(t.starttime), type.c_str(), id.c_str(),
                  user.c_str());
    t.upid = buffer;
    if (const auto it = fail_next.find(type); it != fail_next.end()) {
        t.forced_failure = it->second;
        fail_next.erase(it);
    }
    ++calls.tasks;
    tasks.push_back(std::move(t));
    return tasks.back().upid;
}

void fake_proxmox::impl::advance() {
    const auto now = clock::now();
    for (auto& t : tasks) {
        if (t.done || t.finishes_at > now) continue;
        t.done = true;
        if (t.forced_failure) {
            t.exitstatus = *t.forced_failure;
            if (t.on_failure) t.on_failure();
            continue;
        }
        try {
            const auto problem = t.effect ? t.effect() : std::nullopt;
            t.exitstatus = problem.value_or("OK");
        } catch (const std::out_of_range&) {
            // The guest went away while the task ran.
            t.exitstatus = "unable to find configuration file for VM " + t.id;
        }
    }
}

guest& fake_proxmox::impl::find(int vmid, const std::string& type) {
    const auto it = guests.find(vmid);
    if (it == guests.end() || it->second.type != type) {
        throw server_error("Configuration file 'nodes/" + options.node + "/" +
                           (type == "qemu" ? "qemu-server" : "lxc") + "/" + std::to_string(vmid) +
                           ".conf' does not exist");
    }
    return it->second;
}

std::string fake_proxmox::impl::digest(const guest& g) const {
    std::string text;
    for (const auto& [key, value] : g.conf) text += key + ": " + value + "\n";
    return sha1_hex(text);
}

json fake_proxmox::impl::config_json(const guest& g) const {
    json out = json::object();
    for (const auto& [key, value] : g.conf) {
        if (key == "lock") {
            out[key] = value;
        } else if (key == "cipassword") {
            out[key] = "**********";
        } else if (k_numeric_keys.contains(key)) {
            out[key] = std::stoll(value);
        } else {
            out[key] = value;
        }
    }
    out["digest"] = digest(g);
    return out;
}

json fake_proxmox::impl::status_json(const guest& g) const {
    const auto uptime =
        g.running
            ? std::chrono::duration_cast<std::chrono::seconds>(clock::now() - g.started_at).count()
            : 0;
    const auto memory = std::stoull(g.conf.count("memory") ? g.conf.at("memory") : "512") << 20;
    std::uint64_t maxdisk = 0;
    for (const auto& [key, value] : g.conf) {
        if (is_disk_key(key) || key == "rootfs") {
            if (const auto size = parse_size(property(value, "size"))) maxdisk += *size;
        }
    }
    // Counters grow while the guest runs, from a base so that a fresh start is not all zeros.
    const std::uint64_t ticks = g.running ? static_cast<std::uint64_t>(uptime) + 1 : 0;
    json out = {{"vmid", g.vmid},
                {"name", g.type == "lxc" ? g.conf.at("hostname") : g.conf.at("name")},
                {"status", g.running ? "running" : "stopped"},
                {"cpus", std::stoll(g.conf.count("cores") ? g.conf.at("cores") : "1")},
                {"maxmem", memory},
                {"mem", g.running ? memory / 2 : 0},
                {"maxdisk", maxdisk},
                {"disk", 0},
                {"uptime", uptime},
                {"cpu", g.running ? 0.02 : 0.0},
                {"netin", ticks * 1500},
                {"netout", ticks * 900},
                {"diskread", ticks * 4096},
                {"diskwrite", ticks * 8192},
                {"ha", {{"managed", 0}}}};
    if (g.type == "qemu") {
        out["qmpstatus"] = g.running ? "running" : "stopped";
        if (g.conf.contains("template")) out["template"] = 1;
    } else {
        out["type"] = "lxc";
    }
    if (g.running) out["pid"] = 4000 + g.vmid;
    if (g.conf.contains("lock")) out["lock"] = g.conf.at("lock");
    return out;
}

json fake_proxmox::impl::node_status() const {
    const std::uint64_t total = 64ull << 30;
    std::uint64_t used = 2ull << 30;
    for (const auto& [vmid, g] : guests) {
        if (g.running)
            used += std::stoull(g.conf.count("memory") ? g.conf.at("memory") : "0") << 20;
    }
    return {{"cpuinfo",
             {{"model", "Intel(R) Xeon(R) CPU E5-2680 v4 @ 2.40GHz"},
              {"cpus", 16},
              {"sockets", 1},
              {"cores", 8},
              {"mhz", "2400.000"},
              {"hvm", "1"}}},
            {"memory", {{"total", total}, {"used", used}, {"free", total - used}}},
            {"swap", {{"total", 0}, {"used", 0}, {"free", 0}}},
            {"uptime", 123456},
            {"loadavg", {"0.12", "0.20", "0.18"}},
            {"cpu", 0.031},
            {"wait", 0.001},
            {"kversion", "Linux 6.8.12-4-pve #1 SMP PREEMPT_DYNAMIC PMX 6.8.12-4"},
            {"pveversion", "pve-manager/8.2.7/3e0176e6bb2ade3b"},
            {"rootfs", {{"total", 100ull << 30}, {"used", 10ull << 30}, {"avail", 90ull << 30}}}};
}

fake_response fake_proxmox::impl::handle(const fake_request& req) {
    ++calls.requests;
    advance();
    const std::string target(req.target());
    const auto question = target.find('?');
    const std::string raw_path = target.substr(0, question);
    fake_response res;
    try {
        if (!raw_path.starts_with(k_prefix)) throw answer_error{501, "Unknown API path", nullptr};
        std::vector<std::string> path;
        std::string_view rest = std::string_view(raw_path).substr(k_prefix.size());
        while (!rest.empty()) {
            if (rest.front() == '/') {
                rest.remove_prefix(1);
                continue;
            }
            const auto slash = rest.find('/');
            const auto segment = percent_decode(rest.substr(0, slash), false);
            if (!segment) throw answer_error{400, "bad path encoding", nullptr};
            path.push_back(*segment);
            rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);
        }
        std::optional<params> p;
        if (req.method() == http::verb::get || req.method() == http::verb::delete_) {
            p = parse_form(question == std::string::npos ? "" : target.substr(question + 1));
        } else {
            const std::string type(req[http::field::content_type]);
            if (type.starts_with("application/json") && !req.body().empty()) {
                p.emplace();
                const json body = json::parse(req.body(), nullptr, false);
                if (!body.is_object()) throw answer_error{400, "JSON object expected", nullptr};
                for (const auto& [k, v] : body.items())
                    (*p)[k] = v.is_string() ? v.get<std::string>() : v.dump();
            } else {
                p = parse_form(req.body());
            }
        }
        if (!p) throw answer_error{400, "bad form encoding", nullptr};

        // Authentication, except for logging in.
        std::string user;
        const bool login = path == std::vector<std::string>{"access", "ticket"} &&
                           req.method() == http::verb::post;
        if (!login) {
            const std::string authorization(req[http::field::authorization]);
            const std::string cookie(req[http::field::cookie]);
            const auto at = cookie.find("PVEAuthCookie=");
            if (authorization.starts_with("PVEAPIToken=")) {
                const std::string value = authorization.substr(12);
                const auto eq = value.find('=');
                const std::string id = value.substr(0, eq);
                const auto bang = id.find('!');
                if (eq == std::string::npos || bang == std::string::npos) {
                    throw answer_error{401, "invalid token value!", nullptr};
                }
                if (id != options.token_user + "!" + options.token_id) {
                    throw answer_error{401,
                                       "no such token '" + id.substr(bang + 1) + "' for user '" +
                                           id.substr(0, bang) + "'",
                                       nullptr};
                }
                if (value.substr(eq + 1) != options.token_secret) {
                    throw answer_error{401, "invalid token value!", nullptr};
                }
                user = id;
            } else if (at != std::string::npos) {
                std::string ticket = cookie.substr(at + 14);
                ticket = ticket.substr(0, ticket.find(';'));
                if (const auto decoded = percent_decode(ticket, false)) ticket = *decoded;
                const auto known = tickets.find(ticket);
                if (known == tickets.end()) {
                    throw answer_error{401, "permission denied - invalid PVE ticket", nullptr};
                }
                if (req.method() != http::verb::get &&
                    req["CSRFPreventionToken"] != known->second) {
                    ++calls.csrf_refused;
                    throw answer_error{401, "Permission denied - invalid csrf token", nullptr};
                }
                user = options.user;
            } else {
                throw answer_error{401, "No ticket", nullptr};
            }
        }
        res = route(req, path, *p, user);
    } catch (const answer_error& e) {
        if (e.status == 401) ++calls.unauthorized;
        res = failure(e);
    } catch (const std::exception& e) {
        // A bug of the fake must not take its server thread down; PVE says 500 too.
        res = failure({500, std::string("internal error: ") + e.what(), nullptr});
    }
    if (options.verbose) {
        std::fprintf(stderr, "fake-proxmox: %s %s -> %u %s\n",
                     std::string(req.method_string()).c_str(), target.c_str(), res.result_int(),
                     std::string(res.reason()).c_str());
    }
    return res;
}

fake_response fake_proxmox::impl::route(const fake_request& req,
                                        const std::vector<std::string>& path, const params& p,
                                        const std::string& user) {
    const auto method = req.method();
    if (path == std::vector<std::string>{"access", "ticket"} && method == http::verb::post) {
        ++calls.logins;
        check_params(p, {"username", "password", "realm", "otp", "path", "privs", "new-format"});
        require(p, "username");
        require(p, "password");
        std::string username = p.at("username");
        if (p.contains("realm") && username.find('@') == std::string::npos)
            username += "@" + p.at("realm");
        if (username != options.user || p.at("password") != options.password) {
            throw answer_error{401, "authentication failure", nullptr};
        }
        char stamp[16];
        std::snprintf(stamp, sizeof stamp, "%08X", static_cast<unsigned>(unix_now()));
        const std::string ticket = "PVE:" + username + ":" + stamp + "::" + hex_bytes(32);
        const std::string csrf = std::string(stamp) + ":" + hex_bytes(16);
        tickets[ticket] = csrf;
        return ok({{"username", username},
                   {"ticket", ticket},
                   {"CSRFPreventionToken", csrf},
                   {"cap", {{"vms", {{"VM.PowerMgmt", 1}}}}}});
    }
    if (path == std::vector<std::string>{"cluster", "nextid"} && method == http::verb::get) {
        int id = 100;
        while (guests.contains(id)) ++id;
        return ok(std::to_string(id));
    }
    if (path == std::vector<std::string>{"version"}) {
        return ok({{"version", "8.2.7"}, {"release", "8.2"}, {"repoid", "3e0176e6bb2ade3b"}});
    }
    if (path.size() >= 2 && path[0] == "nodes") {
        if (path[1] != options.node) {
            throw server_error("hostname lookup '" + path[1] +
                               "' failed - failed to get address info for: " + path[1] +
                               ": Name or service not known");
        }
        if (node_offline) throw answer_error{595, "No route to host", nullptr};
        const std::vector<std::string> rest(path.begin() + 2, path.end());
        if (rest == std::vector<std::string>{"status"} && method == http::verb::get) {
            return ok(node_status());
        }
        if (!rest.empty() && rest[0] == "tasks") return tasks_route(rest);
        if (!rest.empty() && rest[0] == "qemu") return qemu(req, rest, p, user);
        if (!rest.empty() && rest[0] == "lxc") return lxc(req, rest, p, user);
    }
    throw answer_error{501,
                       "Method '" + std::string(req.method_string()) + " /" +
                           std::string(k_prefix.substr(1)) + "/" + (path.empty() ? "" : path[0]) +
                           "...' not implemented",
                       nullptr};
}

fake_response fake_proxmox::impl::tasks_route(const std::vector<std::string>& rest) {
    static const std::regex upid_pattern(
        R"(^UPID:[^:]+:[0-9A-F]{8}:[0-9A-F]{8}:[0-9A-F]{8}:[^:]+:[^:]*:[^:]+:$)");
    if (rest.size() != 3 || (rest[2] != "status" && rest[2] != "log")) {
        throw answer_error{501, "Method not implemented", nullptr};
    }
    if (!std::regex_match(rest[1], upid_pattern)) {
        throw bad_params({{"upid", "unable to parse worker upid '" + rest[1] + "'"}});
    }
    const auto t =
        std::find_if(tasks.begin(), tasks.end(), [&](const task& x) { return x.upid == rest[1]; });
    if (t == tasks.end()) throw server_error("no such task");
    if (rest[2] == "log") {
        json lines = json::array();
        lines.push_back({{"n", 1}, {"t", "starting " + t->type + " " + t->id}});
        if (t->done) {
            lines.push_back(
                {{"n", 2},
                 {"t", t->exitstatus == "OK" ? "TASK OK" : "TASK ERROR: " + t->exitstatus}});
        }
        return ok(lines);
    }
    ++calls.task_polls;
    json out = {{"upid", t->upid},
                {"node", options.node},
                {"pid", t->pid},
                {"pstart", t->pstart},
                {"starttime", t->starttime},
                {"type", t->type},
                {"id", t->id},
                {"user", t->user},
                {"status", t->done ? "stopped" : "running"}};
    if (t->done) out["exitstatus"] = t->exitstatus;
    return ok(out);
}

fake_proxmox::fake_proxmox(fake_proxmox_options options) : impl_(std::make_unique<impl>()) {
    impl& s = *impl_;
    s.options = std::move(options);
    fake_https_server_options server;
    server.tls = s.options.tls;
    server.port = s.options.port;
    server.ca_name = "Proxmox Virtual Environment";
    s.server =
        std::make_unique<fake_https_server>(std::move(server), [&s](const fake_request& req) {
            std::lock_guard lock(s.mutex);
            return s.handle(req);
        });
}

fake_proxmox::~fake_proxmox() { impl_->server->stop(); }

std::uint16_t fake_proxmox::port() const { return impl_->server->port(); }
std::string fake_proxmox::url() const { return impl_->server->url(); }
const std::string& fake_proxmox::ca_pem() const { return impl_->server->ca_pem(); }
const std::string& fake_proxmox::node() const { return impl_->options.node; }
std::string fake_proxmox::token_id() const {
    return impl_->options.token_user + "!" + impl_->options.token_id;
}
const std::string& fake_proxmox::token_secret() const { return impl_->options.token_secret; }

void fake_proxmox::add_template(int vmid, const std::string& name, std::uint64_t disk_gib) {
    std::lock_guard lock(impl_->mutex);
    guest g;
    g.vmid = vmid;
    g.type = "qemu";
    const std::string id = std::to_string(vmid);
    g.conf = {{"name", name},
              {"template", "1"},
              {"cores", "1"},
              {"sockets", "1"},
              {"memory", "1024"},
              {"ostype", "l26"},
              {"scsihw", "virtio-scsi-single"},
              {"boot", "order=scsi0"},
              {"agent", "1"},
              {"scsi0", "local-lvm:base-" + id + "-disk-0,size=" + std::to_string(disk_gib) + "G"},
              {"ide2", "local-lvm:vm-" + id + "-cloudinit,media=cdrom"},
              {"net0", "virtio=" + new_mac() + ",bridge=vmbr0,firewall=1"},
              {"serial0", "socket"},
              {"vga", "serial0"},
              {"smbios1", "uuid=" + new_uuid()},
              {"vmgenid", new_uuid()}};
    impl_->guests[vmid] = g;
}

void fake_proxmox::add_container(int vmid, const std::string& hostname, bool running) {
    std::lock_guard lock(impl_->mutex);
    guest g;
    g.vmid = vmid;
    g.type = "lxc";
    g.running = running;
    g.started_at = clock::now();
    g.conf = {{"hostname", hostname},
              {"cores", "1"},
              {"memory", "512"},
              {"swap", "512"},
              {"ostype", "debian"},
              {"arch", "amd64"},
              {"rootfs", "local-lvm:vm-" + std::to_string(vmid) + "-disk-0,size=8G"},
              {"net0", "name=eth0,bridge=vmbr0,hwaddr=" + new_mac() + ",ip=dhcp,type=veth"}};
    impl_->guests[vmid] = g;
}

std::optional<std::map<std::string, std::string>> fake_proxmox::config(int vmid) const {
    std::lock_guard lock(impl_->mutex);
    impl_->advance();
    const auto it = impl_->guests.find(vmid);
    if (it == impl_->guests.end()) return std::nullopt;
    return it->second.conf;
}

std::optional<std::string> fake_proxmox::status(int vmid) const {
    std::lock_guard lock(impl_->mutex);
    impl_->advance();
    const auto it = impl_->guests.find(vmid);
    if (it == impl_->guests.end()) return std::nullopt;
    return it->second.running ? "running" : "stopped";
}

fake_proxmox_calls fake_proxmox::calls() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->calls;
}

std::vector<std::string> fake_proxmox::upids() const {
    std::lock_guard lock(impl_->mutex);
    std::vector<std::string> out;
    for (const auto& t : impl_->tasks) out.push_back(t.upid);
    return out;
}

void fake_proxmox::fail_next_task(const std::string& type, const std::string& exitstatus) {
    std::lock_guard lock(impl_->mutex);
    impl_->fail_next[type] = exitstatus;
}

void fake_proxmox::ignore_acpi(int vmid) {
    std::lock_guard lock(impl_->mutex);
    impl_->guests[vmid].ignore_acpi = true;
}

void fake_proxmox::take_node_offline() {
    std::lock_guard lock(impl_->mutex);
    impl_->node_offline = true;
}

void fake_proxmox::vanish() { impl_->server->vanish(); }

void fake_proxmox::set_task_duration(std::chrono::milliseconds duration) {
    std::lock_guard lock(impl_->mutex);
    impl_->options.task_duration = duration;
}

}  // namespace vpsfleet::testing
