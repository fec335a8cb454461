#pragma once
// The fleet protocol's message types: one plain struct per `type`, the envelope that carries them,
// and `make` to stamp a new envelope. Wire encoding and strict decoding live in codec.hpp.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace vpsfleet::protocol {

inline constexpr int k_version = 1;

// Values accepted in hello.driver.
inline constexpr std::string_view k_drivers[] = {"libvirt", "proxmox", "memory"};

// ---- agent -> coordinator ----

struct disk_fact {
    std::string name;
    std::uint64_t size_bytes = 0;
    std::uint64_t free_bytes = 0;
    bool operator==(const disk_fact&) const = default;
};

struct host_facts {
    std::uint32_t cpus = 0;
    std::uint32_t cpu_mhz = 0;
    std::string cpu_model;
    std::uint64_t memory_bytes = 0;
    std::vector<disk_fact> disks;
    std::vector<std::string> capabilities;
    bool operator==(const host_facts&) const = default;
};

struct hello {
    static constexpr std::string_view k_type = "hello";
    std::string agent_version;
    std::string driver;  // one of k_drivers
    std::string host_name;
    host_facts facts;
    // Command ids the agent has completed and remembers; omitted on the wire when empty.
    std::vector<std::string> journal;
    // Where the agent serves /metrics ("host:port" as bound, "[v6]:port"), for Prometheus.
    std::optional<std::string> metrics_listen;
    bool operator==(const hello&) const = default;
};

struct domain_entry {
    std::string uuid;
    std::string name;
    std::string state;
    std::string config_hash;
    bool operator==(const domain_entry&) const = default;
};

struct inventory {
    static constexpr std::string_view k_type = "inventory";
    std::vector<domain_entry> domains;
    bool operator==(const inventory&) const = default;
};

struct host_sample {
    double cpu_percent = 0;
    std::uint64_t memory_used_bytes = 0;
    std::uint64_t memory_total_bytes = 0;
    bool operator==(const host_sample&) const = default;
};

struct vm_sample {
    std::string uuid;
    double cpu_percent = 0;
    std::uint64_t memory_used_bytes = 0;
    std::uint64_t disk_read_bytes = 0;
    std::uint64_t disk_write_bytes = 0;
    std::uint64_t net_rx_bytes = 0;
    std::uint64_t net_tx_bytes = 0;
    bool operator==(const vm_sample&) const = default;
};

struct metrics_batch {
    static constexpr std::string_view k_type = "metrics";
    std::int64_t at = 0;  // unix ms
    host_sample host;
    std::vector<vm_sample> vms;
    bool operator==(const metrics_batch&) const = default;
};

struct event {
    static constexpr std::string_view k_type = "event";
    std::string uuid;
    std::string event;
    std::string state;
    std::optional<std::string> detail;
    bool operator==(const struct event&) const = default;
};

struct heartbeat {
    static constexpr std::string_view k_type = "heartbeat";
    std::uint64_t seq = 0;
    bool operator==(const heartbeat&) const = default;
};

struct command_ack {
    static constexpr std::string_view k_type = "command.ack";
    std::string command_id;
    bool operator==(const command_ack&) const = default;
};

struct command_progress {
    static constexpr std::string_view k_type = "command.progress";
    std::string command_id;
    std::uint32_t step = 0;
    std::uint32_t total = 0;
    std::string message;
    bool operator==(const command_progress&) const = default;
};

struct command_error {
    std::string code;
    std::string message;
    bool operator==(const command_error&) const = default;
};

struct command_result {
    static constexpr std::string_view k_type = "command.result";
    std::string command_id;
    bool ok = false;
    std::optional<nlohmann::json> result;  // a JSON object; required when ok
    std::optional<command_error> error;    // required when !ok
    bool operator==(const command_result&) const = default;
};

struct cert_renew {
    static constexpr std::string_view k_type = "cert.renew";
    std::string csr_pem;
    bool operator==(const cert_renew&) const = default;
};

// ---- coordinator -> agent ----

struct welcome {
    static constexpr std::string_view k_type = "welcome";
    std::string host_id;
    std::uint32_t heartbeat_ms = 0;
    std::uint32_t lease_ms = 0;
    std::string coordinator_version;
    bool operator==(const welcome&) const = default;
};

struct command {
    static constexpr std::string_view k_type = "command";
    std::string command_id;
    std::string kind;
    nlohmann::json args = nlohmann::json::object();  // always a JSON object
    std::int64_t deadline = 0;                       // unix ms
    bool operator==(const command&) const = default;
};

struct command_cancel {
    static constexpr std::string_view k_type = "command.cancel";
    std::string command_id;
    bool operator==(const command_cancel&) const = default;
};

struct cert_issued {
    static constexpr std::string_view k_type = "cert.issued";
    std::string certificate_pem;
    std::string ca_pem;
    std::int64_t not_after = 0;  // unix ms
    bool operator==(const cert_issued&) const = default;
};

// ---- both directions ----

// Sent in reply to a message that could not be used; the envelope's ref names it when its id
// could be read.
struct error {
    static constexpr std::string_view k_type = "error";
    std::string code;
    std::string message;
    bool operator==(const error&) const = default;
};

using message =
    std::variant<hello, inventory, metrics_batch, event, heartbeat, command_ack, command_progress,
                 command_result, cert_renew, welcome, command, command_cancel, cert_issued, error>;

// The wire `type` of a message: "hello", "command.result", ...
std::string_view type_of(const message& m);

struct envelope {
    int v = k_version;
    // Filled by decode and make; encode writes type_of(body) whatever this says.
    std::string type;
    std::string id;
    std::optional<std::string> ref;
    std::int64_t ts = 0;  // unix ms
    message body;
    bool operator==(const envelope&) const = default;
};

// A random UUID v4 in its 36-character text form.
std::string new_id();

// An envelope for `body` with a fresh id and the current time.
envelope make(message body, std::optional<std::string> ref = std::nullopt);

}  // namespace vpsfleet::protocol
