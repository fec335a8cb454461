// GET /api/admin/v1/prometheus/targets: the fleet's scrape targets in Prometheus's http_sd format,
// read from the hosts table, for operators who may view hosts.
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/test_helpers.hpp"

#include <gtest/gtest.h>

using namespace vpsfleet::testing;
using json = nlohmann::json;

namespace {

// The group whose `host` label is `name`; null when there is none.
json group_of(const json& groups, const std::string& name) {
    for (const auto& g : groups) {
        if (g["labels"].value("host", "") == name) return g;
    }
    return nullptr;
}

}  // namespace

TEST(prometheus_targets, lists_this_coordinator_and_every_host_agent_in_http_sd_format) {
    admin_world w;
    ASSERT_EQ(w.call("POST", "/hosts",
                     {{"name", "hv-v4"},
                      {"ip", "10.1.2.3"},
                      {"kind", "libvirt"},
                      {"region_id", 1},
                      {"cpu", 8},
                      {"memory", 1LL << 34}})
                  .status,
              201);
    ASSERT_EQ(w.call("POST", "/hosts",
                     {{"name", "hv-v6"},
                      {"ip", "2001:db8::5"},
                      {"kind", "libvirt"},
                      {"region_id", 1},
                      {"cpu", 8},
                      {"memory", 1LL << 34}})
                  .status,
              201);
    // How `vpsfleet-agent enroll` leaves a host: no address, named by the agent's hostname.
    exec_sql(w.db, "INSERT INTO hosts (name, region_id, enabled) VALUES ('hv-enrolled', 1, false)");

    // The coordinator is listed as the caller reached it (the Host header Prometheus sends).
    auto r = w.api.call(
        "GET", "/api/admin/v1/prometheus/targets?agent_port=9200", nullptr,
        {{"Authorization", "Bearer " + w.viewer}, {"Host", "coordinator.example.net:8080"}});
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.header("content-type"), "application/json");
    ASSERT_TRUE(r.body.is_array()) << r.raw;
    ASSERT_EQ(r.body.size(), 4u) << r.raw;
    EXPECT_EQ(r.body[0], (json{{"targets", {"coordinator.example.net:8080"}},
                               {"labels", {{"__meta_vpsfleet_tier", "coordinator"}}}}));
    const auto v4 = group_of(r.body, "hv-v4");
    EXPECT_EQ(v4["targets"], json({"10.1.2.3:9200"})) << r.raw;
    EXPECT_EQ(v4["labels"]["__meta_vpsfleet_tier"], "agent");
    EXPECT_EQ(v4["labels"]["region"], "default");
    EXPECT_EQ(v4["labels"]["__meta_vpsfleet_host_state"], "pending");
    EXPECT_EQ(v4["labels"]["__meta_vpsfleet_host_enabled"], "true");
    EXPECT_EQ(v4["labels"]["__meta_vpsfleet_host_id"],
              w.query("SELECT id FROM hosts WHERE name = 'hv-v4'"));
    EXPECT_EQ(group_of(r.body, "hv-v6")["targets"], json({"[2001:db8::5]:9200"})) << r.raw;
    const auto enrolled = group_of(r.body, "hv-enrolled");
    EXPECT_EQ(enrolled["targets"], json({"hv-enrolled:9200"})) << r.raw;
    EXPECT_EQ(enrolled["labels"]["__meta_vpsfleet_host_enabled"], "false");
    for (const auto& g : r.body) {
        for (const auto& [key, value] : g["labels"].items()) {
            EXPECT_TRUE(value.is_string()) << "http_sd label values are strings: " << key;
        }
    }

    r = w.call("GET", "/prometheus/targets");
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(group_of(r.body, "hv-v4")["targets"], json({"10.1.2.3:9101"}))
        << "agents serve /metrics on 9101 unless told otherwise";

    // Once an agent's hello says where it listens, that wins over the route's port: a wildcard
    // keeps the host's address, a specific address is used as it is.
    exec_sql(w.db, "UPDATE hosts SET metrics_listen = '0.0.0.0:9300' WHERE name = 'hv-v4'");
    exec_sql(w.db, "UPDATE hosts SET metrics_listen = '[::]:9301' WHERE name = 'hv-v6'");
    exec_sql(w.db, "UPDATE hosts SET metrics_listen = '192.0.2.7:9302' WHERE name = 'hv-enrolled'");
    r = w.call("GET", "/prometheus/targets?agent_port=9200");
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(group_of(r.body, "hv-v4")["targets"], json({"10.1.2.3:9300"})) << r.raw;
    EXPECT_EQ(group_of(r.body, "hv-v6")["targets"], json({"[2001:db8::5]:9301"})) << r.raw;
    EXPECT_EQ(group_of(r.body, "hv-enrolled")["targets"], json({"192.0.2.7:9302"})) << r.raw;
}

TEST(prometheus_targets, refuses_bad_ports_anonymous_callers_and_customers) {
    admin_world w;
    for (const char* port : {"0", "65536", "http"}) {
        const auto r =
            w.call("GET", std::string("/prometheus/targets?agent_port=") + port, nullptr);
        EXPECT_EQ(r.status, 400) << port << ": " << r.raw;
    }
    EXPECT_EQ(w.api.get("/api/admin/v1/prometheus/targets").status, 401);
    const auto customer = sign_up(w.api, "customer@example.com");
    EXPECT_EQ(w.api.get("/api/admin/v1/prometheus/targets", customer.access_token).status, 403);
}
