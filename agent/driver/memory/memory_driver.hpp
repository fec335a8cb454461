#pragma once
// A hypervisor that lives in memory, for the fleet simulator (bench/): a host with a given number
// of VMs whose state changes on commands after a configurable delay (the calling worker thread
// waits, as it would for a real hypervisor) and whose counters grow while they run. Thread-safe.
#include "agent/driver/driver.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace vpsfleet::agent::driver {

struct memory_options {
    std::string host_name = "sim-host";
    unsigned vms = 10;                           // defined at start, running
    std::chrono::milliseconds command_delay{0};  // how long each state-changing call takes
    unsigned cpus = 32;
    std::uint64_t memory_bytes = 128ULL << 30;
    std::uint64_t pool_bytes = 4ULL << 40;
    bool stats = true;  // false: stats() answers unsupported (no per-VM series in the agent)
};

class memory_driver : public hypervisor {
  public:
    explicit memory_driver(memory_options options);

    std::string kind() const override { return "memory"; }

    result<vm_status> define(const vm_spec& spec) override;
    result<vm_status> start(const std::string& vm) override;
    result<shutdown_outcome> shutdown(const std::string& vm,
                                      std::chrono::milliseconds timeout) override;
    result<vm_status> stop(const std::string& vm) override;
    result<vm_status> reboot(const std::string& vm) override;
    result<vm_status> reset(const std::string& vm) override;
    result<void> undefine(const std::string& vm, bool keep_volumes) override;

    result<change_outcome> resize(const std::string& vm, const resize_spec& spec) override;
    result<vm_status> reinstall(const std::string& vm, const reinstall_spec& spec) override;
    result<change_outcome> set_limits(const std::string& vm, const vm_limits& limits) override;

    result<snapshot_info> create_snapshot(const std::string& vm, const std::string& name,
                                          const std::string& description) override;
    result<std::vector<snapshot_info>> list_snapshots(const std::string& vm) override;
    result<vm_status> revert_snapshot(const std::string& vm, const std::string& name) override;
    result<void> delete_snapshot(const std::string& vm, const std::string& name) override;

    result<console_ticket> console(const std::string& vm, std::chrono::seconds valid_for) override;
    result<void> set_password(const std::string& vm, const std::string& user,
                              const std::string& password, bool is_hash) override;
    result<void> set_ssh_keys(const std::string& vm, const std::string& user,
                              const std::vector<std::string>& keys) override;
    result<firewall_outcome> firewall(const std::string& vm, const firewall_spec& spec) override;

    result<host_facts> facts() override;
    result<std::vector<vm_status>> inventory() override;
    result<stats_sample> stats() override;

    void on_event(event_handler handler) override;

  private:
    struct vm {
        vm_status status;
        std::uint32_t vcpus = 1;
        std::uint64_t memory_mib = 512;
        std::uint64_t disk_bytes = 0;
        unsigned generation = 0;   // bumped by every definition change, for config_hash
        std::uint64_t cpu_ns = 0;  // counters accumulated up to `since`
        std::chrono::steady_clock::time_point since;
        std::map<std::string, snapshot_info> snapshots;
    };

    void wait_delay() const;
    vm* find(const std::string& name_or_uuid);  // under mutex_
    void set_state(vm& v, const std::string& state, const std::string& event,
                   const std::string& detail);  // under mutex_; queues the event
    void flush_events();                        // outside mutex_
    static std::string hash(const vm& v);

    memory_options options_;
    mutable std::mutex mutex_;
    std::map<std::string, vm> vms_;  // by uuid
    std::vector<vm_event> pending_;  // under mutex_
    event_handler handler_;          // under handler_mutex_
    std::mutex handler_mutex_;
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
    std::uint64_t next_id_ = 0;
};

}  // namespace vpsfleet::agent::driver
