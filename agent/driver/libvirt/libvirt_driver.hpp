#pragma once
// The libvirt implementation of the driver: domains defined from vpsfleet's XML, disks as volumes
// in storage pools (qcow2 overlays or copies of an image), cloud-init seeds as CD-ROM ISOs, and
// lifecycle events from libvirt's event loop. One connection is shared by every calling thread
// (libvirt connections are thread-safe) and reopened when it dies. Works against test:/// as well,
// which is how the tests drive it.
#include "agent/driver/driver.hpp"
#include "agent/driver/libvirt/connection.hpp"
#include "agent/driver/libvirt/domain_xml.hpp"
#include "agent/driver/libvirt/event_loop.hpp"
#include "agent/driver/libvirt/handles.hpp"

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

namespace vpsfleet::agent::libvirt {

struct event_sink;  // where lifecycle events go (libvirt_driver.cpp)

struct libvirt_options {
    std::string uri = "qemu:///system";
    // Where cloud-init seed ISOs are written; the hypervisor must be able to read them.
    std::string seed_dir = "/var/lib/vpsfleet-agent/seeds";
    // How often shutdown() looks whether the guest has powered off.
    std::chrono::milliseconds poll_interval{200};
    // The guest CPU under KVM (agent_config::cpu_mode, cpu_disable).
    std::string cpu_mode = "host-model";
    std::vector<std::string> cpu_disable;
};

class libvirt_driver final : public driver::hypervisor {
  public:
    explicit libvirt_driver(libvirt_options options);
    ~libvirt_driver() override;

    std::string kind() const override { return "libvirt"; }

    driver::result<driver::vm_status> define(const driver::vm_spec& spec) override;
    driver::result<driver::vm_status> start(const std::string& vm) override;
    driver::result<driver::shutdown_outcome> shutdown(const std::string& vm,
                                                      std::chrono::milliseconds timeout) override;
    driver::result<driver::vm_status> stop(const std::string& vm) override;
    driver::result<driver::vm_status> reboot(const std::string& vm) override;
    driver::result<driver::vm_status> reset(const std::string& vm) override;
    driver::result<void> undefine(const std::string& vm, bool keep_volumes) override;

    driver::result<driver::change_outcome> resize(const std::string& vm,
                                                  const driver::resize_spec& spec) override;
    driver::result<driver::vm_status> reinstall(const std::string& vm,
                                                const driver::reinstall_spec& spec) override;
    driver::result<driver::change_outcome> set_limits(const std::string& vm,
                                                      const driver::vm_limits& limits) override;

    driver::result<driver::snapshot_info> create_snapshot(const std::string& vm,
                                                          const std::string& name,
                                                          const std::string& description) override;
    driver::result<std::vector<driver::snapshot_info>> list_snapshots(
        const std::string& vm) override;
    driver::result<driver::vm_status> revert_snapshot(const std::string& vm,
                                                      const std::string& name) override;
    driver::result<void> delete_snapshot(const std::string& vm, const std::string& name) override;

    driver::result<driver::console_ticket> console(const std::string& vm,
                                                   std::chrono::seconds valid_for) override;
    driver::result<void> set_password(const std::string& vm, const std::string& user,
                                      const std::string& password, bool is_hash) override;
    driver::result<void> set_ssh_keys(const std::string& vm, const std::string& user,
                                      const std::vector<std::string>& keys) override;

    driver::result<driver::firewall_outcome> firewall(const std::string& vm,
                                                      const driver::firewall_spec& spec) override;

    driver::result<driver::host_facts> facts() override;
    driver::result<std::vector<driver::vm_status>> inventory() override;
    driver::result<driver::stats_sample> stats() override;

    void on_event(driver::event_handler handler) override;

    // The seed ISO path of a VM (exposed for tests).
    std::string seed_path(const std::string& uuid) const;
    // The open connection, for looking at what the driver did (tests: on test:/// every new
    // connection starts from the host file again). Null when it cannot connect.
    virConnectPtr native();

  private:
    // One open connection and its lifecycle-event registration.
    struct session {
        std::unique_ptr<connection> conn;
        int callback_id = -1;
        session() = default;
        session(const session&) = delete;
        session& operator=(const session&) = delete;
        ~session() {
            if (callback_id >= 0) virConnectDomainEventDeregisterAny(conn->get(), callback_id);
        }
    };

    // The live connection, reopened when it died; errc::unavailable when that fails.
    driver::result<std::shared_ptr<session>> open();
    driver::result<domain_ptr> find(virConnectPtr conn, const std::string& vm);
    driver::result<driver::vm_status> status_of(virDomainPtr d);
    std::string domain_type(virConnectPtr conn);
    // Keeps the volume for disk `index` of a VM, or creates it; pool_full when it has no room.
    driver::result<disk_volume> ensure_volume(virConnectPtr conn, const std::string& uuid,
                                              std::size_t index, const driver::disk_spec& disk,
                                              bool& created);
    driver::result<disk_volume> create_volume(virConnectPtr conn, const std::string& name,
                                              const driver::disk_spec& disk);
    driver::result<void> delete_volume(virConnectPtr conn, const disk_volume& v);
    driver::result<std::string> write_seed(const std::string& uuid,
                                           const driver::cloud_init_spec& spec,
                                           const std::vector<driver::nic_spec>& nics);
    driver::result<void> redefine(virConnectPtr conn, const std::string& xml);
    driver::result<void> apply_limits_live(virDomainPtr d, const driver::vm_limits& limits,
                                           std::vector<std::string>& pending);
    // Removes the network filter with that name, if the host has it.
    driver::result<void> drop_filter(virConnectPtr conn, const std::string& name);

    libvirt_options options_;
    std::shared_ptr<event_loop> events_;
    std::shared_ptr<event_sink> sink_;
    std::mutex mutex_;
    std::shared_ptr<session> session_;  // guarded by mutex_
    std::string domain_type_;           // guarded by mutex_; found once per connection
};

}  // namespace vpsfleet::agent::libvirt
