#pragma once
// A small fleet for tests: a database, a coordinator process with its fleet port on a fixed free
// port (so agents find it again after a restart) and short heartbeat/lease, and helpers to mint
// join tokens, enroll agents and watch host states in PostgreSQL.
#include "tests/integration/daemon_fixture.hpp"

#include <chrono>
#include <string>

namespace vpsfleet::testing {

class fleet_fixture {
  public:
    // fleet_extra: more keys for the coordinator's fleet section, each line indented two spaces.
    explicit fleet_fixture(const std::string& fleet_extra = {});
    ~fleet_fixture();

    std::uint16_t fleet_port() const { return fleet_port_; }
    const std::string& database_url() const { return db_url_; }
    const std::string& dir() const { return dir_; }
    running_daemon& coordinator() { return coordinator_; }
    const std::string& coordinator_config() const { return coordinator_config_.path(); }

    void restart_coordinator();
    // Runs `join-token create` and returns the token.
    std::string create_token(const std::string& ttl = "1h");
    std::string agent_config(const std::string& name);
    run_result enroll(const std::string& name, const std::string& token,
                      const std::string& fingerprint = {});
    running_daemon start_agent(const std::string& name);
    // Enrolls and starts an agent on tests/data/libvirt/host.xml, a libvirt test host with the
    // storage pools and images the catalog names ("vms", "images").
    running_daemon start_catalog_host_agent(const std::string& name);
    // Gives an enrolled host room for the catalog's plans (8 CPUs, 16 GiB of memory, a 100 GiB
    // "vms" disk); returns its id.
    std::string give_host_room(const std::string& name) const;
    // Enrolls and starts an agent on libvirtd's qemu:///system (real KVM guests). Its seeds
    // live under dir(), which becomes world-readable so QEMU can open them.
    running_daemon start_qemu_agent(const std::string& name);
    std::string fleet_ca_fingerprint() const;

    std::string host_state(const std::string& name) const;
    // Polls hosts.state; returns true once it is `state`.
    bool wait_for_state(const std::string& name, const std::string& state,
                        std::chrono::milliseconds timeout = std::chrono::seconds(15)) const;
    std::string scrape() const;
    // `vpsfleet-coordinator command send`: submits through the database and waits for the result.
    run_result send_command(const std::string& host, const std::string& kind,
                            const std::string& args_json, const std::string& timeout = "10s") const;
    // Starts another coordinator process on the same database (its own ports and fleet state).
    running_daemon start_second_coordinator() const;

  private:
    // hypervisor_extra: more keys for the hypervisor section, each line indented two spaces.
    void write_agent_config(const std::string& path, const std::string& name,
                            const std::string& libvirt_uri, const std::string& interval,
                            const std::string& hypervisor_extra = {}) const;
    run_result enroll_with_config(const std::string& config, const std::string& token,
                                  const std::string& fingerprint = {}) const;

    std::string dir_;
    std::string db_url_;
    std::uint16_t fleet_port_;
    temp_file coordinator_config_;
    running_daemon coordinator_;
};

}  // namespace vpsfleet::testing
