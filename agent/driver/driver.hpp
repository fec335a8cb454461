#pragma once
// The agent's one way to touch the hypervisor: VM specs, the operations on them and the figures
// read back. Implementations (libvirt today, Proxmox later) block; the agent runs them on its
// worker pool (worker_pool.hpp). Every operation returns a value or an error whose code is stable
// (it becomes the fleet command's error code) and whose message is the hypervisor's own.
#include "agent/driver/result.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace vpsfleet::agent::driver {

// ---- what a VM is made of ----

// An OS image to build a disk from: a volume in a storage pool.
struct image_ref {
    std::string pool;
    std::string volume;
};

enum class clone_mode {
    overlay,  // a qcow2 overlay backed by the image (fast, shares the image's blocks)
    copy,     // a full, independent copy of the image
};

struct disk_spec {
    std::uint64_t size_bytes = 0;
    std::string pool;
    std::optional<image_ref> image;  // blank disk when empty
    clone_mode clone = clone_mode::overlay;
};

struct ip_address {
    std::string cidr;  // "203.0.113.10/24", "2001:db8::10/64"
    std::optional<std::string> gateway;
};

struct nic_spec {
    std::optional<std::string> network;  // a hypervisor network, or
    std::optional<std::string> bridge;   // a host bridge; exactly one of the two
    std::string mac;                     // generated (52:54:00:..) when empty
    std::vector<ip_address> ipv4;        // static addresses; DHCP when both lists are empty
    std::vector<ip_address> ipv6;
    std::vector<std::string> nameservers;
};

struct user_spec {
    std::string name;
    std::vector<std::string> ssh_keys;
    std::optional<std::string> password_hash;  // crypt(3) form, e.g. "$6$..."
    bool sudo = true;
};

// A cloud-init NoCloud seed, attached to the VM as a CD-ROM.
struct cloud_init_spec {
    std::string hostname;
    std::vector<user_spec> users;
    std::optional<std::string> user_data;  // extra user-data (#cloud-config or a script)
};

struct vm_limits {
    std::optional<std::uint32_t> cpu_percent;  // per vCPU, 1..100 of a host core; 0 = none
    std::optional<std::uint64_t> disk_iops;    // per disk, read+write; 0 = none
    std::optional<std::uint64_t> disk_bytes_per_sec;
    std::optional<std::uint64_t> net_in_kib_per_sec;  // per NIC; libvirt's KiB/s
    std::optional<std::uint64_t> net_out_kib_per_sec;
};

struct vm_spec {
    std::string name;
    std::string uuid;
    std::uint32_t vcpus = 1;
    std::uint32_t max_vcpus = 0;  // hot-plug ceiling; 0 = vcpus
    std::uint64_t memory_mib = 512;
    std::uint64_t max_memory_mib = 0;  // balloon ceiling; 0 = memory_mib
    std::vector<disk_spec> disks;      // disks[0] is the root disk
    std::vector<nic_spec> nics;
    std::optional<cloud_init_spec> cloud_init;
    vm_limits limits;
};

// ---- what comes back ----

struct vm_status {
    std::string uuid;
    std::string name;
    std::string state;        // running, shutoff, paused, ... (see libvirt/connection.hpp)
    std::string config_hash;  // changes whenever the definition does
    bool operator==(const vm_status&) const = default;
};

struct shutdown_outcome {
    vm_status vm;
    bool forced = false;  // the guest ignored ACPI until the timeout: it was powered off
};

struct resize_spec {
    std::optional<std::uint32_t> vcpus;
    std::optional<std::uint64_t> memory_mib;
    std::map<std::size_t, std::uint64_t> disk_bytes;  // disk index -> new size; grow only
};

// Changes the running guest could not take live apply at its next start.
struct change_outcome {
    vm_status vm;
    std::vector<std::string> pending_restart;  // "vcpus: <why>", ...
};

struct reinstall_spec {
    image_ref image;
    clone_mode clone = clone_mode::overlay;
    std::optional<std::uint64_t> size_bytes;    // keeps the old root size when empty
    std::optional<cloud_init_spec> cloud_init;  // keeps the addresses of the define
    bool start = true;                          // start the VM when its disk is ready
};

struct snapshot_info {
    std::string name;
    std::string description;
    std::string state;            // the VM's state when it was taken
    std::int64_t created_at = 0;  // unix seconds
    std::optional<std::string> parent;
    bool current = false;
};

struct console_ticket {
    std::string protocol = "vnc";
    std::string host;  // where the VNC server listens, on the hypervisor host
    int port = 0;
    std::string password;         // one-time: replaced by the next ticket, and expires
    std::int64_t expires_at = 0;  // unix seconds
};

struct host_facts {
    std::string hostname;
    std::string cpu_model;
    unsigned cpus = 0;
    unsigned cpu_mhz = 0;
    std::uint64_t memory_bytes = 0;
    std::map<std::string, unsigned> domains_by_state;
};

struct pool_stats {
    std::string name;
    std::uint64_t capacity_bytes = 0;
    std::uint64_t allocation_bytes = 0;
    std::uint64_t available_bytes = 0;
};

struct host_stats {
    // Cumulative CPU time of the whole host, when the hypervisor reports it.
    std::optional<std::uint64_t> cpu_busy_ns;
    std::optional<std::uint64_t> cpu_idle_ns;
    std::uint64_t memory_total_bytes = 0;
    std::uint64_t memory_free_bytes = 0;  // including page cache the kernel can drop
    std::vector<pool_stats> pools;
    std::uint64_t net_rx_bytes = 0;  // physical interfaces, when the hypervisor is local
    std::uint64_t net_tx_bytes = 0;
};

struct vm_stats {
    std::string uuid;
    std::string name;
    std::string state;
    std::uint32_t vcpus = 0;
    std::uint64_t cpu_time_ns = 0;
    std::uint64_t memory_bytes = 0;  // current allocation (balloon)
    std::uint64_t max_memory_bytes = 0;
    std::uint64_t disk_read_bytes = 0;
    std::uint64_t disk_write_bytes = 0;
    std::uint64_t disk_read_ops = 0;
    std::uint64_t disk_write_ops = 0;
    std::uint64_t net_rx_bytes = 0;
    std::uint64_t net_tx_bytes = 0;
    std::uint64_t net_rx_packets = 0;
    std::uint64_t net_tx_packets = 0;
};

struct stats_sample {
    std::chrono::system_clock::time_point at;
    host_stats host;
    std::vector<vm_stats> vms;
};

// ---- the per-VM firewall ----

enum class firewall_direction { in, out };  // to the VM, from the VM
enum class firewall_action { accept, drop, reject };

struct port_range {
    std::uint16_t from = 0;
    std::uint16_t to = 0;  // == from for one port
};

struct firewall_rule {
    firewall_direction direction = firewall_direction::in;
    firewall_action action = firewall_action::accept;
    // tcp, udp, sctp, udplite, icmp, icmpv6, esp, ah; empty: any protocol.
    std::string protocol;
    std::optional<std::string> source;       // address or CIDR, IPv4 or IPv6; none: any
    std::optional<std::string> destination;  // the same
    std::vector<port_range> source_ports;    // tcp, udp and sctp only; empty: any port
    std::vector<port_range> destination_ports;
    std::string comment;  // shown in the host's firewall (the rule's id, not customer text)
};

// A VM's firewall on one of its interfaces. With rules: inbound traffic is dropped unless a rule
// (or an established connection) lets it in, outbound is allowed unless a rule drops it, rules
// apply in order, and the interface may only send from its own MAC and addresses. Without rules:
// no filter at all.
struct firewall_spec {
    std::string mac;                // the interface
    std::vector<std::string> ipv4;  // the VM's own addresses on it (no prefix); none: learned
    std::vector<std::string> ipv6;  // none: only link-local sources
    std::vector<firewall_rule> rules;
};

struct firewall_outcome {
    vm_status vm;
    std::string filter;  // the filter the interface now references; empty when none
    std::size_t rules = 0;
    bool live = false;  // also in force on the running VM, not only in its definition
};

// A lifecycle change seen by the hypervisor: defined, undefined, started, suspended, resumed,
// stopped, shutdown, crashed, ... with the reason (detail) when it gives one.
struct vm_event {
    std::string uuid;
    std::string name;
    std::string event;
    std::string detail;
    std::string state;  // the VM's state after the event
};

using event_handler = std::function<void(const vm_event&)>;

// The Driver interface. VMs are named by UUID or by name in every call.
class hypervisor {
  public:
    virtual ~hypervisor() = default;

    virtual std::string kind() const = 0;  // "libvirt", ...

    // Creates or, for a UUID already defined, updates the definition. Disks that exist are kept.
    virtual result<vm_status> define(const vm_spec& spec) = 0;
    virtual result<vm_status> start(const std::string& vm) = 0;
    // ACPI power button, then a forced power-off once `timeout` has passed.
    virtual result<shutdown_outcome> shutdown(const std::string& vm,
                                              std::chrono::milliseconds timeout) = 0;
    virtual result<vm_status> stop(const std::string& vm) = 0;  // power off now
    virtual result<vm_status> reboot(const std::string& vm) = 0;
    virtual result<vm_status> reset(const std::string& vm) = 0;
    // Removes the VM, its snapshots and seed, and its volumes unless keep_volumes.
    virtual result<void> undefine(const std::string& vm, bool keep_volumes) = 0;

    virtual result<change_outcome> resize(const std::string& vm, const resize_spec& spec) = 0;
    virtual result<vm_status> reinstall(const std::string& vm, const reinstall_spec& spec) = 0;
    virtual result<change_outcome> set_limits(const std::string& vm, const vm_limits& limits) = 0;

    virtual result<snapshot_info> create_snapshot(const std::string& vm, const std::string& name,
                                                  const std::string& description) = 0;
    virtual result<std::vector<snapshot_info>> list_snapshots(const std::string& vm) = 0;
    virtual result<vm_status> revert_snapshot(const std::string& vm, const std::string& name) = 0;
    virtual result<void> delete_snapshot(const std::string& vm, const std::string& name) = 0;

    virtual result<console_ticket> console(const std::string& vm,
                                           std::chrono::seconds valid_for) = 0;
    // Through qemu-guest-agent; errc::no_guest_agent when the guest has none answering.
    virtual result<void> set_password(const std::string& vm, const std::string& user,
                                      const std::string& password, bool is_hash) = 0;
    virtual result<void> set_ssh_keys(const std::string& vm, const std::string& user,
                                      const std::vector<std::string>& keys) = 0;

    // Replaces the VM's firewall on the interface with spec.mac, on the running VM and in its
    // definition, without restarting it. errc::unsupported when the hypervisor cannot filter.
    virtual result<firewall_outcome> firewall(const std::string& vm, const firewall_spec& spec) = 0;

    virtual result<host_facts> facts() = 0;
    virtual result<std::vector<vm_status>> inventory() = 0;
    virtual result<stats_sample> stats() = 0;

    // Called on the driver's own event thread; the handler must not block.
    virtual void on_event(event_handler handler) = 0;
};

}  // namespace vpsfleet::agent::driver
