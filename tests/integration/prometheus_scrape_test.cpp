// A real Prometheus (Debian's /usr/bin/prometheus) against a coordinator and an enrolled agent on
// libvirt's test driver, finding both through the coordinator's http_sd route the way the shipped
// scrape configuration does: `up` is 1 for each tier and the agent's per-VM series arrive.
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/fleet_fixture.hpp"
#include "tests/integration/test_helpers.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <cstdio>
#include <filesystem>

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
    ASSERT_EQ(fleet.enroll("hv-prom", fleet.create_token()).status, 0);
    auto agent = fleet.start_agent("hv-prom");
    ASSERT_TRUE(fleet.wait_for_state("hv-prom", "online"));
    // Where the agent's /metrics is: an operator sets the host's address when enrolling.
    exec_sql(fleet.database_url(), "UPDATE hosts SET ip = '127.0.0.1' WHERE name = 'hv-prom'");

    const std::string targets =
        "http://127.0.0.1:" + std::to_string(fleet.coordinator().port) +
        "/api/admin/v1/prometheus/targets?agent_port=" + std::to_string(agent.port);
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

    const auto up_of = [&](const std::string& job) {
        const auto result = instant_query(port, "up{job=\"" + job + "\"}");
        return result.size() == 1 ? result[0]["value"][1].get<std::string>() : std::string();
    };
    EXPECT_TRUE(eventually([&] { return up_of("vpsfleet-coordinator") == "1"; }, 15s))
        << prometheus.collected_stderr();
    EXPECT_TRUE(eventually([&] { return up_of("vpsfleet-agent") == "1"; }, 15s))
        << prometheus.collected_stderr() << fleet.coordinator().process->collected_stderr();
    const auto agent_up = instant_query(port, "up{job=\"vpsfleet-agent\"}");
    ASSERT_EQ(agent_up.size(), 1u);
    EXPECT_EQ(agent_up[0]["metric"]["host"], "hv-prom") << agent_up.dump();
    EXPECT_EQ(agent_up[0]["metric"]["instance"], "127.0.0.1:" + std::to_string(agent.port));

    // test:///default defines one running guest, "test".
    json vm;
    EXPECT_TRUE(eventually(
        [&] {
            vm = instant_query(port, "vpsfleet_agent_vm_state{job=\"vpsfleet-agent\"}");
            return !vm.empty();
        },
        10s));
    ASSERT_FALSE(vm.empty());
    EXPECT_EQ(vm[0]["metric"]["name"], "test") << vm.dump();
    EXPECT_EQ(vm[0]["metric"]["host"], "hv-prom") << vm.dump();
    EXPECT_FALSE(instant_query(port, "vpsfleet_coordinator_fleet_connected_agents == 1").empty())
        << "the coordinator's own series, scraped from its REST listener";
}
