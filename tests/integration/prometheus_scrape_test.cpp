// A real Prometheus (Debian's /usr/bin/prometheus) against a coordinator and two enrolled agents on
// libvirt's test driver, finding all three through the coordinator's http_sd route the way the
// shipped scrape configuration does (each agent at the address its hello reported): `up` is 1
// for each and the agents' per-VM series arrive.
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/fleet_fixture.hpp"
#include "tests/integration/test_helpers.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>

using namespace vpsfleet::testing;
using json = nlohmann::json;
using namespace std::chrono_literals;

namespace {

constexpr const char* k_prometheus = "/usr/bin/prometheus";

// The job's http_sd on the coordinator, keeping one tier, as deploy/prometheus/prometheus.yml.
// Debian's Prometheus 2.42 sends http_sd credentials without the "Bearer" scheme unless `type`
// says so.
std::string scrape_job(const std::string& job, const std::string& tier, const std::string& url,
                       const std::string& token) {
    return "  - job_name: " + job + "\n    http_sd_configs:\n      - url: \"" + url +
           "\"\n        refresh_interval: 1s\n        authorization:\n          type: Bearer\n"
           "          credentials: \"" +
           token + "\"\n    relabel_configs:\n      - source_labels: [__meta_vpsfleet_tier]\n" +
           "        regex: " + tier + "\n        action: keep\n";
}

// The query's result vector; empty on any failure.
json instant_query(std::uint16_t port, const std::string& promql) {
    std::string encoded;
    for (const unsigned char c : promql) {
        if (std::isalnum(c) || c == '_') {
            encoded += static_cast<char>(c);
        } else {
            char hex[4];
            std::snprintf(hex, sizeof hex, "%%%02X", c);
            encoded += hex;
        }
    }
    const auto reply = http_get("127.0.0.1", port, "/api/v1/query?query=" + encoded);
    const auto body = json::parse(reply.body, nullptr, false);
    if (reply.status != 200 || body.is_discarded() || body.value("status", "") != "success") {
        return json::array();
    }
    return body["data"]["result"];
}

}  // namespace

TEST(prometheus_scrape, finds_and_scrapes_both_tiers_through_the_coordinators_targets) {
    if (!std::filesystem::exists(k_prometheus)) {
        GTEST_SKIP() << "Prometheus is not installed (Debian package prometheus)";
    }
    fleet_fixture fleet;
    const api_client api(fleet.coordinator().port);
    const auto ops = sign_up(api, "prometheus@example.com");
    grant_role(fleet.database_url(), ops.email, "read_only");
    ASSERT_EQ(fleet.enroll("hv-prom-1", fleet.create_token()).status, 0);
    ASSERT_EQ(fleet.enroll("hv-prom-2", fleet.create_token()).status, 0);
    auto agent1 = fleet.start_agent("hv-prom-1");
    auto agent2 = fleet.start_agent("hv-prom-2");
    ASSERT_TRUE(fleet.wait_for_state("hv-prom-1", "online"));
    ASSERT_TRUE(fleet.wait_for_state("hv-prom-2", "online"));

    // No address or port given: each agent is found where its hello said it listens.
    const std::string targets = "http://127.0.0.1:" + std::to_string(fleet.coordinator().port) +
                                "/api/admin/v1/prometheus/targets";
    const auto direct = api.call("GET", targets.substr(targets.find("/api/")), nullptr,
                                 api_client::bearer(ops.access_token));
    ASSERT_EQ(direct.status, 200) << direct.raw;
    temp_file config("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n" +
                     scrape_job("vpsfleet-coordinator", "coordinator", targets, ops.access_token) +
                     scrape_job("vpsfleet-agent", "agent", targets, ops.access_token));
    temp_dir storage;
    const auto port = free_tcp_port();
    child_process prometheus({k_prometheus, "--config.file=" + config.path(),
                              "--storage.tsdb.path=" + storage.path(),
                              "--web.listen-address=127.0.0.1:" + std::to_string(port)});
    ASSERT_TRUE(prometheus.wait_for_line("Server is ready to receive web requests", 20s))
        << prometheus.collected_stderr();

    // The number of targets of the job whose `up` is 1.
    const auto up_count = [&](const std::string& job) {
        return instant_query(port, "up{job=\"" + job + "\"} == 1").size();
    };
    EXPECT_TRUE(eventually([&] { return up_count("vpsfleet-coordinator") == 1; }, 15s))
        << prometheus.collected_stderr();
    EXPECT_TRUE(eventually([&] { return up_count("vpsfleet-agent") == 2; }, 15s))
        << prometheus.collected_stderr() << fleet.coordinator().process->collected_stderr();
    std::map<std::string, std::string> instance_of;
    for (const auto& s : instant_query(port, "up{job=\"vpsfleet-agent\"}"))
        instance_of[s["metric"]["host"]] = s["metric"]["instance"];
    EXPECT_EQ(instance_of["hv-prom-1"], "127.0.0.1:" + std::to_string(agent1.port));
    EXPECT_EQ(instance_of["hv-prom-2"], "127.0.0.1:" + std::to_string(agent2.port));

    // test:///default defines one running guest, "test", on each host.
    json vms;
    EXPECT_TRUE(eventually(
        [&] {
            vms = instant_query(port, "vpsfleet_agent_vm_state{job=\"vpsfleet-agent\"}");
            return vms.size() == 2;
        },
        10s))
        << vms.dump();
    std::set<std::string> hosts_with_vm;
    for (const auto& vm : vms) {
        EXPECT_EQ(vm["metric"]["name"], "test") << vm.dump();
        hosts_with_vm.insert(vm["metric"]["host"].get<std::string>());
    }
    EXPECT_EQ(hosts_with_vm, (std::set<std::string>{"hv-prom-1", "hv-prom-2"}));
    EXPECT_FALSE(instant_query(port, "vpsfleet_coordinator_fleet_connected_agents == 2").empty())
        << "the coordinator's own series, scraped from its REST listener";
}
