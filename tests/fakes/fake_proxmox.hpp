#pragma once
// A fake Proxmox VE node for tests, speaking the PVE HTTP API (`/api2/json`, form-encoded
// parameters, answers wrapped in {"data": ...}) over TLS with a throwaway CA, on a free port.
//
// Like pveproxy it takes an API token (`Authorization: PVEAPIToken=user@realm!id=secret`) or a
// ticket (`POST /access/ticket`, then the `PVEAuthCookie` cookie, and `CSRFPreventionToken` on
// every write); refuses with 401 and the reason in the status line ("No ticket", "authentication
// failure", "invalid token value!", "Permission denied - invalid csrf token"), answers bad
// parameters with 400 "Parameter verification failed." and {"errors": {param: why}}, and other
// failures with 500 and the message as the reason.
//
// What it serves: QEMU guests (list, clone from a template, config read and write with a digest,
// resize, status, start/shutdown/stop/reboot/reset, delete with purge, snapshots and rollback,
// vncproxy, rrddata), LXC containers (list, status, config, power), the node's status and its
// tasks. Every long action is a task with a real-looking UPID
// (`UPID:node:PID:PSTART:STARTTIME:type:id:user:`) that finishes `task_duration` after it began;
// its effect on the guest lands when it finishes. Test hooks make a task fail, take the node
// off line, or make the whole machine vanish.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace vpsfleet::testing {

struct fake_proxmox_options {
    std::string node = "pve1";
    // API token: "<user>!<token_id>=<secret>".
    std::string token_user = "vpsfleet@pve";
    std::string token_id = "agent";
    std::string token_secret = "5f0c8a8e-2b7e-4c1e-9a43-0c9d2f6b1e77";
    // Ticket login.
    std::string user = "root@pam";
    std::string password = "pve-root-password";
    std::chrono::milliseconds task_duration{40};
    bool tls = true;
    std::uint16_t port = 0;
    bool verbose = false;  // one stderr line per request
};

struct fake_proxmox_calls {
    std::size_t requests = 0;
    std::size_t unauthorized = 0;  // 401 of any kind, CSRF refusals included
    std::size_t csrf_refused = 0;
    std::size_t logins = 0;
    std::size_t clones = 0;
    std::size_t config_writes = 0;
    std::size_t resizes = 0;
    std::size_t power = 0;  // start, shutdown, stop, reboot, reset (qemu and lxc)
    std::size_t deletes = 0;
    std::size_t snapshot_calls = 0;  // create, rollback, delete
    std::size_t vncproxy = 0;
    std::size_t task_polls = 0;  // GET .../tasks/{upid}/status
    std::size_t tasks = 0;       // tasks started
};

class fake_proxmox {
  public:
    explicit fake_proxmox(fake_proxmox_options options = {});
    ~fake_proxmox();
    fake_proxmox(const fake_proxmox&) = delete;
    fake_proxmox& operator=(const fake_proxmox&) = delete;

    std::uint16_t port() const;
    std::string url() const;  // https://127.0.0.1:PORT (the API is under /api2/json)
    const std::string& ca_pem() const;
    const std::string& node() const;
    std::string token_id() const;  // "vpsfleet@pve!agent"
    const std::string& token_secret() const;

    // A QEMU template with a cloud-init drive, a virtio NIC and a root disk (scsi0) of disk_gib.
    void add_template(int vmid, const std::string& name, std::uint64_t disk_gib = 2);
    // An LXC container.
    void add_container(int vmid, const std::string& hostname, bool running);

    // A guest's config as GET .../config shows it (values as strings); nullopt if none.
    std::optional<std::map<std::string, std::string>> config(int vmid) const;
    std::optional<std::string> status(int vmid) const;  // "running" / "stopped"
    fake_proxmox_calls calls() const;
    // Every UPID started, oldest first.
    std::vector<std::string> upids() const;

    // The next task of this type ("qmstart", "qmclone", "qmshutdown", ...) ends with this
    // exitstatus and changes nothing.
    void fail_next_task(const std::string& type, const std::string& exitstatus);
    // A guest that ignores ACPI: a qmshutdown of it runs until its timeout and fails.
    void ignore_acpi(int vmid);
    // Every later request about this node answers 595 "No route to host", as pveproxy does for
    // a node it cannot reach.
    void take_node_offline();
    // The machine goes away: new connections are refused, requests in flight get no answer.
    void vanish();
    void set_task_duration(std::chrono::milliseconds duration);

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace vpsfleet::testing
