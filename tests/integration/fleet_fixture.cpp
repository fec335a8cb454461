#include "tests/integration/fleet_fixture.hpp"

#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

namespace vpsfleet::testing {

namespace {

std::string make_temp_dir() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp ? tmp : "/tmp") + "/vpsfleet-fleet-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    return pattern;
}

std::string coordinator_yaml(const std::string& db_url, std::uint16_t fleet_port,
                             const std::string& dir, const std::string& fleet_extra) {
    return "log:\n  level: debug\nhttp:\n  listen: 127.0.0.1:0\ndatabase:\n  url: \"" + db_url +
           "\"\nfleet:\n  listen: 127.0.0.1:" + std::to_string(fleet_port) +
           "\n  state_dir: " + dir + "/coordinator\n  heartbeat: 100ms\n  lease: 400ms\n" +
           fleet_extra;
}

}  // namespace

fleet_fixture::fleet_fixture(const std::string& fleet_extra)
    : dir_(make_temp_dir()),
      db_url_(fresh_database()),
      fleet_port_(free_tcp_port()),
      coordinator_config_(coordinator_yaml(db_url_, fleet_port_, dir_, fleet_extra)),
      coordinator_(launch_daemon(coordinator_bin(), coordinator_config_.path())) {
    remember_coordinator_database(coordinator_.port, db_url_);
    if (wait_for_status("127.0.0.1", coordinator_.port, "/readyz", 200, std::chrono::seconds(20))
            .status != 200) {
        throw std::runtime_error("coordinator not ready:\n" +
                                 coordinator_.process->collected_stderr());
    }
}

fleet_fixture::~fleet_fixture() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

void fleet_fixture::restart_coordinator() {
    coordinator_.terminate(std::chrono::seconds(5));
    coordinator_ = launch_daemon(coordinator_bin(), coordinator_config_.path());
    remember_coordinator_database(coordinator_.port, db_url_);
}

std::string fleet_fixture::create_token(const std::string& ttl) {
    const auto r = run_command({coordinator_bin(), "join-token", "create", "--config",
                                coordinator_config_.path(), "--ttl", ttl});
    if (r.status != 0) throw std::runtime_error("join-token create failed: " + r.output);
    const auto at = r.output.find("vfj_");
    return r.output.substr(at, r.output.find('\n', at) - at);
}

void fleet_fixture::write_agent_config(const std::string& path, const std::string& name,
                                       const std::string& libvirt_uri, const std::string& interval,
                                       const std::string& hypervisor_extra) const {
    std::ofstream(path) << "host:\n  name: " << name
                        << "\nhypervisor:\n  libvirt_uri: " << libvirt_uri << "\n"
                        << hypervisor_extra << "metrics:\n  listen: 127.0.0.1:0\n"
                        << "collector:\n  interval: " << interval << "\n  push_interval: 300ms"
                        << "\nlink:\n  state_dir: " << dir_ << "/" << name
                        << "\n  reconnect_cap: 300ms\n";
}

std::string fleet_fixture::agent_config(const std::string& name) {
    const std::string path = dir_ + "/" + name + ".yaml";
    write_agent_config(path, name, "test:///default", "200ms");
    return path;
}

run_result fleet_fixture::enroll_with_config(const std::string& config, const std::string& token,
                                             const std::string& fingerprint) const {
    std::vector<std::string> argv{
        agent_bin(),     "enroll",
        "--config",      config,
        "--coordinator", "https://127.0.0.1:" + std::to_string(fleet_port_),
        "--token",       token};
    if (!fingerprint.empty()) argv.insert(argv.end(), {"--ca-fingerprint", fingerprint});
    return run_command(argv);
}

run_result fleet_fixture::enroll(const std::string& name, const std::string& token,
                                 const std::string& fingerprint) {
    return enroll_with_config(agent_config(name), token, fingerprint);
}

running_daemon fleet_fixture::start_agent(const std::string& name) {
    return launch_daemon(agent_bin(), agent_config(name));
}

running_daemon fleet_fixture::start_catalog_host_agent(const std::string& name) {
    const std::string config = dir_ + "/" + name + "-libvirt.yaml";
    write_agent_config(
        config, name, std::string("test://") + VPSFLEET_SOURCE_DIR + "/tests/data/libvirt/host.xml",
        "100ms");
    const auto enrolled = enroll_with_config(config, create_token());
    EXPECT_EQ(enrolled.status, 0) << enrolled.output;
    return launch_daemon(agent_bin(), config);
}

running_daemon fleet_fixture::start_qemu_agent(const std::string& name) {
    std::filesystem::permissions(dir_, std::filesystem::perms(0755));
    const std::string config = dir_ + "/" + name + "-qemu.yaml";
    // This test machine is a VM whose KVM refuses host-model's IA32_ARCH_CAPABILITIES MSR.
    write_agent_config(config, name, "qemu:///system", "200ms",
                       "  cpu_disable: [arch-capabilities]\n");
    const auto enrolled = enroll_with_config(config, create_token());
    EXPECT_EQ(enrolled.status, 0) << enrolled.output;
    return launch_daemon(agent_bin(), config);
}

std::string fleet_fixture::give_host_room(const std::string& name) const {
    pqxx::connection conn(db_url_);
    pqxx::work tx(conn);
    const auto id = tx.exec_params1(
                          "UPDATE hosts SET cpu = 8, memory = 17179869184 WHERE name = $1 "
                          "RETURNING id",
                          name)[0]
                        .as<std::string>();
    tx.exec_params(
        "INSERT INTO host_disks (host_id, name, size, kind, interface) "
        "VALUES ($1, 'vms', 107374182400, 'ssd', 'pcie')",
        id);
    tx.commit();
    return id;
}

std::string fleet_fixture::fleet_ca_fingerprint() const {
    const auto line =
        coordinator_.process->wait_for_line("\"ca_fingerprint\"", std::chrono::seconds(5));
    if (!line) return {};
    const auto at = line->find("\"ca_fingerprint\":\"") + 18;
    return line->substr(at, 64);
}

std::string fleet_fixture::host_state(const std::string& name) const {
    pqxx::connection conn(db_url_);
    const auto rows =
        pqxx::read_transaction(conn).exec_params("SELECT state FROM hosts WHERE name = $1", name);
    return rows.empty() ? "" : rows[0][0].as<std::string>();
}

bool fleet_fixture::wait_for_state(const std::string& name, const std::string& state,
                                   std::chrono::milliseconds timeout) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (host_state(name) == state) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
    return false;
}

std::string fleet_fixture::scrape() const { return coordinator_.get("/metrics").body; }

run_result fleet_fixture::send_command(const std::string& host, const std::string& kind,
                                       const std::string& args_json,
                                       const std::string& timeout) const {
    return run_command({coordinator_bin(), "command", "send", "--config",
                        coordinator_config_.path(), "--host", host, "--kind", kind, "--args",
                        args_json, "--timeout", timeout});
}

running_daemon fleet_fixture::start_second_coordinator() const {
    // Same CA (one fleet), another fleet port.
    auto second =
        start_daemon(coordinator_bin(), coordinator_yaml(db_url_, free_tcp_port(), dir_, {}));
    remember_coordinator_database(second.port, db_url_);
    return second;
}

}  // namespace vpsfleet::testing
