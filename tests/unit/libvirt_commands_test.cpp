// Fleet commands as the agent runs them (JSON in, JSON out) through the host collector's worker
// pool onto the libvirt driver on test:///, the per-VM /metrics series, and lifecycle events.
#include "agent/collector/host_collector.hpp"
#include "agent/collector/vm_metrics.hpp"
#include "agent/driver/libvirt/libvirt_driver.hpp"
#include "agent/link/command_runner.hpp"
#include "common/metrics.hpp"
#include "tests/unit/libvirt_test_host.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <atomic>

using namespace vpsfleet;
using namespace vpsfleet::agent;
using namespace vpsfleet::testing;
using json = nlohmann::json;
namespace asio = boost::asio;

namespace {

asio::awaitable<void> execute(host_collector& c, protocol::command cmd,
                              std::optional<protocol::command_result>* out) {
    *out = co_await link::run_command(c, cmd);
}

struct agent_on_test_host {
    temp_dir state;
    agent_config cfg;
    asio::io_context io;
    prometheus::Registry registry;
    std::unique_ptr<host_collector> collector;

    agent_on_test_host() {
        cfg.libvirt_uri = test_host_uri();
        cfg.state_dir = state.path();
        cfg.collect_interval = std::chrono::seconds(30);  // only refresh_soon() samples again
        collector = std::make_unique<host_collector>(io, registry, cfg);
        collector->start();
    }
    ~agent_on_test_host() {
        collector->stop();
        io.run_for(std::chrono::milliseconds(50));
    }

    protocol::command_result run(const std::string& kind, json args) {
        protocol::command cmd{protocol::new_id(), kind, std::move(args), 0};
        std::optional<protocol::command_result> out;
        asio::co_spawn(io, execute(*collector, cmd, &out), asio::detached);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (!out && std::chrono::steady_clock::now() < deadline)
            io.run_for(std::chrono::milliseconds(10));
        if (!out) throw std::runtime_error(kind + " did not finish");
        return *out;
    }

    // Runs the loop until `done` holds (true) or 5 s pass (false).
    template <class F>
    bool until(F done) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (!done()) {
            if (std::chrono::steady_clock::now() > deadline) return false;
            io.run_for(std::chrono::milliseconds(10));
        }
        return true;
    }

    std::string metrics() { return vpsfleet::metrics::expose(registry); }
};

json define_args() {
    return json::parse(R"({
      "name": "vm1", "uuid": "0b7c2a9e-3d4f-4e5a-8b6c-7d8e9f0a1b2c",
      "vcpus": 2, "memory_mib": 2048,
      "disks": [{"pool": "vms", "size_bytes": 10737418240,
                 "image": {"pool": "images", "volume": "debian-12.qcow2"}}],
      "nics": [{"network": "default", "ipv4": [{"cidr": "203.0.113.10/24",
                                                "gateway": "203.0.113.1"}]}],
      "cloud_init": {"hostname": "vm1", "users": [{"name": "alice",
                                                   "ssh_keys": ["ssh-ed25519 AAAA a@b"]}]},
      "limits": {"disk_iops": 1000}
    })");
}

std::string error_code(const protocol::command_result& r) { return r.error ? r.error->code : ""; }

}  // namespace

TEST(agent_vm_commands, a_vm_goes_through_its_life_by_fleet_commands) {
    agent_on_test_host agent;
    auto defined = agent.run("vm.define", define_args());
    ASSERT_TRUE(defined.ok) << defined.error->message;
    EXPECT_EQ((*defined.result)["state"], "shutoff");
    EXPECT_EQ((*defined.result)["config_hash"].get<std::string>().size(), 64u);

    const json vm = {{"vm", "vm1"}};
    auto started = agent.run("vm.start", vm);
    ASSERT_TRUE(started.ok) << started.error->message;
    EXPECT_EQ((*started.result)["state"], "running");
    EXPECT_TRUE(agent.run("vm.start", vm).ok) << "start is idempotent";

    auto snap = agent.run("vm.snapshot.create", {{"vm", "vm1"}, {"name", "s1"}});
    ASSERT_TRUE(snap.ok) << snap.error->message;
    auto list = agent.run("vm.snapshot.list", vm);
    ASSERT_TRUE(list.ok);
    ASSERT_EQ((*list.result)["snapshots"].size(), 1u);
    EXPECT_EQ((*list.result)["snapshots"][0]["name"], "s1");
    EXPECT_TRUE(agent.run("vm.snapshot.revert", {{"vm", "vm1"}, {"name", "s1"}}).ok);
    EXPECT_TRUE(agent.run("vm.snapshot.delete", {{"vm", "vm1"}, {"name", "s1"}}).ok);

    auto resized = agent.run("vm.resize", {{"vm", "vm1"}, {"memory_mib", 1024}});
    ASSERT_TRUE(resized.ok) << resized.error->message;
    EXPECT_TRUE((*resized.result)["pending_restart"].empty());
    auto limits = agent.run("vm.limits", {{"vm", "vm1"}, {"net_in_kib_per_sec", 1000}});
    ASSERT_TRUE(limits.ok) << limits.error->message;
    EXPECT_TRUE(agent.run("vm.reboot", vm).ok);
    EXPECT_TRUE(agent.run("vm.reset", vm).ok);
    EXPECT_TRUE(
        agent
            .run("vm.guest.set_password", {{"vm", "vm1"}, {"user", "root"}, {"password", "s3cret"}})
            .ok);
    auto down = agent.run("vm.shutdown", {{"vm", "vm1"}, {"timeout_ms", 2000}});
    ASSERT_TRUE(down.ok) << down.error->message;
    EXPECT_EQ((*down.result)["state"], "shutoff");
    EXPECT_EQ((*down.result)["forced"], false);

    auto reinstalled = agent.run(
        "vm.reinstall",
        {{"vm", "vm1"}, {"image", {{"pool", "images"}, {"volume", "ubuntu-24.04.qcow2"}}}});
    ASSERT_TRUE(reinstalled.ok) << reinstalled.error->message;
    EXPECT_EQ((*reinstalled.result)["state"], "running");
    EXPECT_TRUE(agent.run("vm.stop", vm).ok);
    auto gone = agent.run("vm.undefine", vm);
    ASSERT_TRUE(gone.ok) << gone.error->message;

    // The collector's inventory (what the link reports) follows without waiting for a tick.
    ASSERT_TRUE(agent.until([&] {
        auto snap = agent.collector->latest();
        return snap && std::none_of(snap->domains.begin(), snap->domains.end(),
                                    [](const auto& d) { return d.name == "vm1"; });
    }));
}

TEST(agent_vm_commands, errors_come_back_with_stable_codes) {
    agent_on_test_host agent;
    auto unknown = agent.run("vm.start", {{"vm", "ghost"}});
    EXPECT_FALSE(unknown.ok);
    EXPECT_EQ(error_code(unknown), "not_found");
    EXPECT_NE(unknown.error->message.find("ghost"), std::string::npos);

    auto no_vm = agent.run("vm.start", json::object());
    EXPECT_EQ(error_code(no_vm), "invalid_arguments");
    EXPECT_NE(no_vm.error->message.find("args.vm"), std::string::npos) << no_vm.error->message;

    auto bad_disk = define_args();
    bad_disk["disks"][0]["size_bytes"] = "ten gigs";
    auto bad = agent.run("vm.define", bad_disk);
    EXPECT_EQ(error_code(bad), "invalid_arguments");
    EXPECT_NE(bad.error->message.find("args.disks[0].size_bytes"), std::string::npos)
        << bad.error->message;

    auto clash = define_args();
    clash["name"] = "web1";
    EXPECT_EQ(error_code(agent.run("vm.define", clash)), "name_clash");

    auto full = define_args();
    full["disks"][0]["pool"] = "small";
    EXPECT_EQ(error_code(agent.run("vm.define", full)), "pool_full");

    EXPECT_EQ(error_code(agent.run("vm.guest.set_password",
                                   {{"vm", "web1"}, {"user", "root"}, {"password", "x"}})),
              "no_guest_agent");
    EXPECT_EQ(error_code(agent.run("vm.teleport", {{"vm", "web1"}})), "unsupported_command");

    // The older domain.* kinds keep refusing a domain already in the asked-for state.
    EXPECT_TRUE(agent.run("domain.stop", {{"domain", "web1"}}).ok);
    auto again = agent.run("domain.stop", {{"domain", "web1"}});
    EXPECT_EQ(error_code(again), "hypervisor_error");
    EXPECT_TRUE(agent.run("domain.start", {{"domain", "web1"}}).ok);
}

TEST(agent_vm_metrics, per_vm_series_are_labelled_by_uuid_and_name) {
    agent_on_test_host agent;
    ASSERT_TRUE(agent.until([&] { return agent.collector->latest().has_value(); }));
    const std::string web1 = std::string("name=\"web1\",uuid=\"") + k_web1_uuid + "\"";
    ASSERT_TRUE(agent.until([&] {
        return agent.metrics().find("vpsfleet_agent_vm_cpu_seconds_total{" + web1) !=
               std::string::npos;
    })) << agent.metrics();
    const auto text = agent.metrics();
    for (const char* series :
         {"vpsfleet_agent_vm_memory_bytes{", "vpsfleet_agent_vm_disk_read_bytes_total{",
          "vpsfleet_agent_vm_disk_write_requests_total{",
          "vpsfleet_agent_vm_network_receive_bytes_total{",
          "vpsfleet_agent_vm_network_transmit_packets_total{", "vpsfleet_agent_vm_vcpus{"})
        EXPECT_NE(text.find(series + web1), std::string::npos) << series << "\n" << text;
    const std::string web1_state = std::string("vpsfleet_agent_vm_state{name=\"web1\",state=\"");
    const std::string web1_uuid = std::string("\",uuid=\"") + k_web1_uuid + "\"} 1";
    EXPECT_NE(text.find(web1_state + "running" + web1_uuid), std::string::npos) << text;
    EXPECT_NE(text.find("vpsfleet_agent_storage_pool_bytes{kind=\"available\",pool=\"small\"}"),
              std::string::npos)
        << text;

    // The state series follows the VM, and a removed VM's series go.
    ASSERT_TRUE(agent.run("vm.stop", {{"vm", "web1"}}).ok);
    ASSERT_TRUE(agent.until([&] {
        return agent.metrics().find(web1_state + "shutoff" + web1_uuid) != std::string::npos;
    })) << agent.metrics();
    EXPECT_EQ(agent.metrics().find(web1_state + "running"), std::string::npos);
    ASSERT_TRUE(agent.run("vm.undefine", {{"vm", "web1"}, {"keep_volumes", true}}).ok);
    ASSERT_TRUE(agent.until([&] {
        return agent.metrics().find("name=\"web1\"") == std::string::npos;
    })) << agent.metrics();
}

TEST(agent_vm_metrics, a_counter_that_goes_back_starts_a_new_series) {
    prometheus::Registry registry;
    vm_metrics m(registry);
    driver::vm_stats vm;
    vm.uuid = "u1";
    vm.name = "vm";
    vm.state = "running";
    vm.cpu_time_ns = 10'000'000'000;
    m.publish({vm});
    auto text = vpsfleet::metrics::expose(registry);
    EXPECT_NE(text.find("vpsfleet_agent_vm_cpu_seconds_total{name=\"vm\",uuid=\"u1\"} 10"),
              std::string::npos)
        << text;
    vm.cpu_time_ns = 12'500'000'000;
    m.publish({vm});
    text = vpsfleet::metrics::expose(registry);
    EXPECT_NE(text.find("vpsfleet_agent_vm_cpu_seconds_total{name=\"vm\",uuid=\"u1\"} 12.5"),
              std::string::npos)
        << text;
    vm.cpu_time_ns = 1'000'000'000;  // the VM was restarted
    m.publish({vm});
    text = vpsfleet::metrics::expose(registry);
    EXPECT_NE(text.find("vpsfleet_agent_vm_cpu_seconds_total{name=\"vm\",uuid=\"u1\"} 1\n"),
              std::string::npos)
        << text;
}

TEST(agent_vm_events, lifecycle_events_reach_the_collectors_listener) {
    agent_on_test_host agent;
    std::mutex m;
    std::vector<driver::vm_event> seen;
    agent.collector->on_event([&](const driver::vm_event& e) {
        std::lock_guard lock(m);
        seen.push_back(e);
    });
    ASSERT_TRUE(agent.run("vm.stop", {{"vm", "web1"}}).ok);
    ASSERT_TRUE(agent.until([&] {
        std::lock_guard lock(m);
        return std::any_of(seen.begin(), seen.end(), [](const auto& e) {
            return e.name == "web1" && e.event == "stopped" && e.state == "shutoff";
        });
    }));
    agent.collector->on_event(nullptr);
}
