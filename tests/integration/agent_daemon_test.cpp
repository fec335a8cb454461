// The agent binary as an operator runs it: config errors, health and a Prometheus-valid scrape of
// the host it manages, a hypervisor it cannot reach, and clean shutdown.
#include "tests/integration/daemon_fixture.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using namespace vpsfleet::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

constexpr const char* k_node = R"(<node>
  <cpu><mhz>2400</mhz><model>x86_64</model><active>8</active><nodes>1</nodes>
       <sockets>1</sockets><cores>4</cores><threads>2</threads></cpu>
  <memory>16777216</memory>
  <domain type="test"><name>web-1</name><memory>1048576</memory><vcpu>2</vcpu><os><type>hvm</type></os></domain>
</node>)";

// Waits until a scrape contains `needle`.
std::string scrape_until(const running_daemon& d, const std::string& needle) {
    std::string body;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
        body = d.get("/metrics").body;
        if (body.find(needle) != std::string::npos) break;
        std::this_thread::sleep_for(50ms);
    }
    return body;
}

}  // namespace

TEST(agent_daemon, unknown_key_and_bad_value_exit_2_naming_them) {
    temp_file unknown("hypervisor:\n  uri: qemu:///system\n");
    auto r = run_command({agent_bin(), "--config", unknown.path()});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.output.find(unknown.path() + ": hypervisor.uri: unknown key"), std::string::npos)
        << r.output;

    temp_file bad("metrics:\n  listen: everywhere\n");
    r = run_command({agent_bin(), "--config", bad.path()});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.output.find("metrics.listen: expected HOST:PORT"), std::string::npos) << r.output;

    r = run_command({agent_bin(), "--config", "/nonexistent/agent.yaml"});
    EXPECT_EQ(r.status, 2);
}

TEST(agent_daemon, scrape_reports_its_host_and_passes_promtool) {
    temp_file node(k_node, ".xml");
    auto d = start_agent("test://" + node.path(), "host:\n  name: hv-test-a\n");
    const auto body = scrape_until(d, "vpsfleet_agent_hypervisor_up{driver=\"libvirt\"} 1");
    EXPECT_EQ(promtool_problems(body), "");
    EXPECT_NE(body.find("vpsfleet_agent_host_cpus 8"), std::string::npos) << body;
    EXPECT_NE(body.find("vpsfleet_agent_host_memory_bytes 17179869184"), std::string::npos);
    EXPECT_NE(body.find(R"(vpsfleet_agent_domains{state="running"} 1)"), std::string::npos);
    EXPECT_NE(body.find(R"(host="hv-test-a")"), std::string::npos);
    EXPECT_NE(body.find("vpsfleet_agent_build_info{"), std::string::npos);

    const auto health = d.get("/healthz");
    EXPECT_EQ(health.status, 200);
    EXPECT_EQ(json::parse(health.body)["hypervisor"], "up");
    EXPECT_EQ(d.terminate(5s), 0);
}

TEST(agent_daemon, unreachable_hypervisor_shows_as_down_not_as_a_crash) {
    auto d = start_agent("qemu+unix:///system?socket=/nonexistent/libvirt-sock");
    const auto body = scrape_until(d, "vpsfleet_agent_hypervisor_up{driver=\"libvirt\"} 0");
    EXPECT_NE(body.find("vpsfleet_agent_hypervisor_up{driver=\"libvirt\"} 0"), std::string::npos)
        << body;
    EXPECT_EQ(json::parse(d.get("/healthz").body)["hypervisor"], "down");
    EXPECT_TRUE(d.process->wait_for_line("\"msg\":\"hypervisor unreachable\"", 5s));
    EXPECT_EQ(d.terminate(5s), 0);
}

TEST(agent_daemon, sigterm_exits_0_within_5_seconds) {
    auto d = start_agent("test:///default");
    ASSERT_EQ(d.get("/healthz").status, 200);
    const auto started = std::chrono::steady_clock::now();
    EXPECT_EQ(d.terminate(5s), 0);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}
