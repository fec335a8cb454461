// An agent configured with `driver: proxmox` against the fake Proxmox VE node: it enrolls, comes
// online with the node's facts, and runs fleet commands on the node's guests.
#include "tests/fakes/fake_proxmox.hpp"
#include "tests/integration/fleet_fixture.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <fstream>

using namespace vpsfleet::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

json last_line_json(const std::string& output) {
    auto end = output.find_last_not_of('\n');
    if (end == std::string::npos) return {};
    const auto start = output.rfind('\n', end);
    return json::parse(output.substr(start == std::string::npos ? 0 : start + 1), nullptr, false);
}

TEST(proxmox_agent, enrolls_comes_online_and_runs_vm_commands_on_the_node) {
    fake_proxmox_options options;
    options.task_duration = 20ms;
    fake_proxmox pve(options);
    pve.add_template(9000, "debian-12", 2);
    fleet_fixture fleet;

    const std::string ca = fleet.dir() + "/pve-ca.pem";
    std::ofstream(ca) << pve.ca_pem();
    const std::string config = fleet.dir() + "/pve-a.yaml";
    std::ofstream(config) << "host:\n  name: pve-a\nhypervisor:\n  driver: proxmox\n  proxmox:\n"
                          << "    url: " << pve.url() << "\n    node: " << pve.node()
                          << "\n    token_id: \"" << pve.token_id()
                          << "\"\n    token_secret: " << pve.token_secret()
                          << "\n    ca_file: " << ca
                          << "\nmetrics:\n  listen: 127.0.0.1:0\ncollector:\n  interval: 200ms\n"
                          << "link:\n  state_dir: " << fleet.dir() << "/pve-a\n"
                          << "  reconnect_cap: 300ms\n";
    const auto enrolled = run_command({agent_bin(), "enroll", "--config", config, "--coordinator",
                                       "https://127.0.0.1:" + std::to_string(fleet.fleet_port()),
                                       "--token", fleet.create_token()});
    ASSERT_EQ(enrolled.status, 0) << enrolled.output;
    auto agent = launch_daemon(agent_bin(), config);
    ASSERT_TRUE(fleet.wait_for_state("pve-a", "online")) << agent.process->collected_stderr();

    pqxx::connection conn(fleet.database_url());
    const auto row =
        pqxx::read_transaction(conn).exec("SELECT cpu, memory FROM hosts WHERE name = 'pve-a'");
    EXPECT_EQ(row[0][0].as<int>(), 16);  // the fake node's cpuinfo
    EXPECT_EQ(row[0][1].as<long long>(), 64LL << 30);

    const std::string uuid = "0b7c2a9e-3d4f-4e5a-8b6c-7d8e9f0a1b2c";
    const json spec = {{"name", "web-01"},
                       {"uuid", uuid},
                       {"vcpus", 2},
                       {"memory_mib", 2048},
                       {"disks",
                        {{{"size_bytes", 10ull << 30},
                          {"pool", "local-lvm"},
                          {"image", {{"pool", "local-lvm"}, {"volume", "debian-12"}}}}}},
                       {"nics", {{{"bridge", "vmbr0"}, {"mac", "52:54:00:aa:bb:cc"}}}}};
    const auto defined = fleet.send_command("pve-a", "vm.define", spec.dump(), "20s");
    ASSERT_EQ(defined.status, 0) << defined.output << agent.process->collected_stderr();
    EXPECT_EQ(last_line_json(defined.output)["result"]["uuid"], uuid) << defined.output;

    const auto started = fleet.send_command("pve-a", "vm.start", json{{"vm", uuid}}.dump(), "20s");
    ASSERT_EQ(started.status, 0) << started.output;
    EXPECT_EQ(last_line_json(started.output)["result"]["state"], "running") << started.output;
    EXPECT_EQ(pve.status(100), "running");

    // The host's reported inventory follows.
    std::string state;
    for (int i = 0; i < 100 && state != "running"; ++i) {
        std::this_thread::sleep_for(50ms);
        const auto rows = pqxx::read_transaction(conn).exec(
            "SELECT d.state FROM host_domains d JOIN hosts h ON h.id = d.host_id "
            "WHERE h.name = 'pve-a' AND d.name = 'web-01'");
        if (!rows.empty()) state = rows[0][0].as<std::string>();
    }
    EXPECT_EQ(state, "running");

    pve.fail_next_task("qmreboot", "VM 100 qmp command 'system_reset' failed - got timeout");
    const auto rebooted =
        fleet.send_command("pve-a", "vm.reboot", json{{"vm", uuid}}.dump(), "20s");
    EXPECT_NE(rebooted.status, 0);
    const auto error = last_line_json(rebooted.output)["error"];
    EXPECT_NE(error.dump().find("system_reset' failed"), std::string::npos) << rebooted.output;

    const auto deleted =
        fleet.send_command("pve-a", "vm.undefine", json{{"vm", uuid}}.dump(), "20s");
    ASSERT_EQ(deleted.status, 0) << deleted.output;
    EXPECT_FALSE(pve.config(100));
    EXPECT_EQ(agent.terminate(5s), 0);
}

}  // namespace
