#pragma once
// The Driver interface over one Proxmox VE node's HTTP API (proxmox_client.hpp).
//
// How the driver's notions map onto Proxmox VE:
// - A VM is a QEMU guest; its UUID lives where PVE keeps one, in `smbios1: uuid=...`, and a UUID
//   or name is turned into a VMID by listing the node's guests (remembered afterwards).
//   LXC containers appear in inventory and stats with a UUID derived from node and VMID.
// - define = clone the template named by disks[0].image.volume (a VMID or a template's name;
//   clone overlay -> linked clone, copy -> full clone), then set cores, memory, the UUID, the
//   NIC's MAC and bridge, cloud-init (`ciuser`, `cipassword` with the crypt hash, `sshkeys`,
//   `ipconfig0`, `nameserver`) and grow the root disk. A define that fails half way deletes the
//   clone. Defining a known UUID again updates the config (the disk only grows).
// - Power actions, delete (purge), resize, snapshots and rollback follow the UPID each call
//   answers until the task stops; its exitstatus becomes the error message.
// - undefine with keep_volumes is errc::unsupported: PVE destroys a VM's disks with it.
// - reinstall deletes the VM and clones the template again under the same VMID, keeping name,
//   UUID, MAC (net0), cores, memory and cloud-init network settings; the password survives only
//   when the reinstall spec brings users again (PVE never shows `cipassword` back).
// - set_password / set_ssh_keys write cloud-init's `cipassword` / `sshkeys`: they reach the guest
//   at its next boot, not live. set_limits and firewall are errc::unsupported for now.
// - console = `vncproxy`: the port and the one-time VNC ticket as password.
// - Proxmox has no event stream here: on_event keeps the handler and never calls it.
#include "agent/driver/driver.hpp"
#include "agent/driver/proxmox/proxmox_client.hpp"

#include <map>
#include <mutex>

namespace vpsfleet::agent::proxmox {

class proxmox_driver : public driver::hypervisor {
  public:
    explicit proxmox_driver(proxmox_options options);

    std::string kind() const override { return "proxmox"; }

    result<driver::vm_status> define(const driver::vm_spec& spec) override;
    result<driver::vm_status> start(const std::string& vm) override;
    result<driver::shutdown_outcome> shutdown(const std::string& vm,
                                              std::chrono::milliseconds timeout) override;
    result<driver::vm_status> stop(const std::string& vm) override;
    result<driver::vm_status> reboot(const std::string& vm) override;
    result<driver::vm_status> reset(const std::string& vm) override;
    result<void> undefine(const std::string& vm, bool keep_volumes) override;

    result<driver::change_outcome> resize(const std::string& vm,
                                          const driver::resize_spec& spec) override;
    result<driver::vm_status> reinstall(const std::string& vm,
                                        const driver::reinstall_spec& spec) override;
    result<driver::change_outcome> set_limits(const std::string& vm,
                                              const driver::vm_limits& limits) override;

    result<driver::snapshot_info> create_snapshot(const std::string& vm, const std::string& name,
                                                  const std::string& description) override;
    result<std::vector<driver::snapshot_info>> list_snapshots(const std::string& vm) override;
    result<driver::vm_status> revert_snapshot(const std::string& vm,
                                              const std::string& name) override;
    result<void> delete_snapshot(const std::string& vm, const std::string& name) override;

    result<driver::console_ticket> console(const std::string& vm,
                                           std::chrono::seconds valid_for) override;
    result<void> set_password(const std::string& vm, const std::string& user,
                              const std::string& password, bool is_hash) override;
    result<void> set_ssh_keys(const std::string& vm, const std::string& user,
                              const std::vector<std::string>& keys) override;
    result<driver::firewall_outcome> firewall(const std::string& vm,
                                              const driver::firewall_spec& spec) override;

    result<driver::host_facts> facts() override;
    result<std::vector<driver::vm_status>> inventory() override;
    result<driver::stats_sample> stats() override;
    void on_event(driver::event_handler handler) override;

    proxmox_client& client() { return client_; }

  private:
    struct guest_ref {
        int vmid = 0;
        std::string type;  // "qemu" / "lxc"
    };

    std::string base(const guest_ref& g) const;  // /nodes/{node}/{type}/{vmid}
    result<guest_ref> resolve(const std::string& vm);
    result<int> resolve_template(const std::string& name_or_vmid);
    result<driver::vm_status> status_of(const guest_ref& g);
    result<std::string> root_disk(const guest_ref& g);
    result<void> grow_disk(const guest_ref& g, const std::string& disk, std::uint64_t bytes);
    result<void> clone_into(int template_vmid, int newid, const std::string& name, bool full);
    result<driver::vm_status> power(const std::string& vm, const std::string& action,
                                    bool needs_running);

    proxmox_client client_;
    std::string node_;
    std::mutex mutex_;
    std::map<std::string, guest_ref> known_;  // uuid -> guest
    driver::event_handler handler_;
};

}  // namespace vpsfleet::agent::proxmox
