#pragma once
// The inside of the fake Proxmox VE node (fake_proxmox.hpp), shared by its two source files:
// fake_proxmox.cpp (wire, authentication, tasks, node, test hooks) and fake_proxmox_guests.cpp
// (QEMU and LXC guests). Not for use outside them.
#include "tests/fakes/fake_proxmox.hpp"
#include "tests/support/fake_https_server.hpp"

#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace vpsfleet::testing {

namespace fake_pve {

namespace http = boost::beast::http;
using json = nlohmann::json;
using clock = std::chrono::steady_clock;
using params = std::map<std::string, std::string>;

std::int64_t unix_now();
std::string hex_bytes(std::size_t n);
std::string new_uuid();
std::string new_mac();
// "10G", "512M", "1T", "1048576" -> bytes.
std::optional<std::uint64_t> parse_size(std::string_view s);
std::string format_size(std::uint64_t bytes);
// The value of `key=` in a Proxmox property string ("local-lvm:vm-101-disk-0,size=2G").
std::string property(const std::string& text, const std::string& key);
std::string with_property(const std::string& text, const std::string& key,
                          const std::string& value);
bool is_disk_key(const std::string& key);

inline const std::set<std::string> k_numeric_keys = {"cores",  "memory",   "sockets", "balloon",
                                                     "onboot", "template", "vmid"};

struct snapshot {
    std::string name;
    std::string description;
    std::int64_t snaptime = 0;
    std::string parent;
    params conf;
    bool vmstate = false;  // RAM saved: a rollback resumes the guest running
};

struct guest {
    int vmid = 0;
    std::string type;  // "qemu" / "lxc"
    params conf;
    bool running = false;
    bool ignore_acpi = false;
    clock::time_point started_at{};
    std::vector<snapshot> snapshots;
    std::string current_parent;  // the snapshot "current" descends from
};

struct task {
    std::string upid;
    std::string type;
    std::string id;
    std::string user;
    unsigned pid = 0;
    unsigned pstart = 0;
    std::int64_t starttime = 0;
    clock::time_point finishes_at{};
    bool done = false;
    std::string exitstatus;
    std::optional<std::string> forced_failure;
    // Runs when the task finishes; a message makes the task fail with it.
    std::function<std::optional<std::string>()> effect;
    // Undoes what the task's start did when it fails (a clone's half-made target).
    std::function<void()> on_failure;
};

struct answer_error {
    unsigned status;
    std::string reason;
    json errors;  // parameter errors, for 400
};

// Answers, and the checks PVE's schema makes; the checks throw answer_error.
fake_response reply(unsigned status, const std::string& reason, const std::string& body);
fake_response ok(const json& data);
fake_response failure(const answer_error& e);
answer_error bad_params(json errors);
answer_error server_error(const std::string& message);
void check_params(const params& p, const std::set<std::string>& allowed);
int parse_vmid(const std::string& text, const std::string& param = "vmid");
std::int64_t integer(const params& p, const std::string& key, std::int64_t min);
bool boolean(const params& p, const std::string& key, bool fallback);
void require(const params& p, const std::string& key);
void check_dns_name(const params& p, const std::string& key);

}  // namespace fake_pve

using namespace fake_pve;

struct fake_proxmox::impl {
    fake_proxmox_options options;
    mutable std::mutex mutex;
    std::map<int, guest> guests;
    std::vector<task> tasks;
    std::map<std::string, std::string> tickets;  // ticket -> CSRF token
    std::map<std::string, std::string> fail_next;
    fake_proxmox_calls calls;
    bool node_offline = false;
    unsigned next_pid = 0x1a2b0;
    unsigned vnc_port = 5900;
    // Last: stopped first, so the handler never sees the members above destroyed.
    std::unique_ptr<fake_https_server> server;

    fake_response handle(const fake_request& req);
    fake_response route(const fake_request& req, const std::vector<std::string>& path,
                        const params& p, const std::string& user);
    void advance();
    std::string start_task(const std::string& type, const std::string& id, const std::string& user,
                           std::function<std::optional<std::string>()> fx,
                           std::optional<clock::duration> duration = {});
    guest& find(int vmid, const std::string& type);
    json config_json(const guest& g) const;
    json status_json(const guest& g) const;
    json node_status() const;
    std::string digest(const guest& g) const;

    fake_response qemu(const fake_request& req, const std::vector<std::string>& rest,
                       const params& p, const std::string& user);
    fake_response lxc(const fake_request& req, const std::vector<std::string>& rest,
                      const params& p, const std::string& user);
    fake_response write_config(guest& g, const params& p, bool async, const std::string& user);
    fake_response power(guest& g, const std::string& action, const params& p,
                        const std::string& user);
    fake_response snapshots(const fake_request& req, guest& g, const std::vector<std::string>& rest,
                            const params& p, const std::string& user);
    fake_response tasks_route(const std::vector<std::string>& rest);
};

}  // namespace vpsfleet::testing
