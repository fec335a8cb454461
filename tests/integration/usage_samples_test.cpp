// Usage samples end to end: an agent on libvirt's test:///default pushes its domain's usage over
// the fleet link, the coordinator writes it to PostgreSQL with COPY, and the customer's metrics
// route and the admin API's running_state show it. Also the rows themselves: what is refused,
// clamped or re-stamped, and pruning by age.
#include "coordinator/fleet/usage_samples.hpp"
#include "coordinator/store/migrations.hpp"
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/fleet_fixture.hpp"
#include "tests/integration/test_helpers.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

using namespace vpsfleet::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;
namespace fleet = vpsfleet::fleet;

namespace {

const std::string k_test_domain = "6695eb01-f6a4-8304-79aa-97f2502e193f";

vpsfleet::protocol::vm_sample vm(const std::string& uuid, double cpu) {
    return {uuid, cpu, 1024, 10, 20, 30, 40};
}

}  // namespace

TEST(usage_samples, rows_are_checked_written_with_copy_and_pruned_by_age) {
    const auto url = fresh_database();
    pqxx::connection conn(url);
    vpsfleet::store::apply_migrations(conn, vpsfleet::store::embedded_migrations());

    const auto now = std::chrono::system_clock::now();
    vpsfleet::protocol::metrics_batch m;
    m.at = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    m.host = {12.5, 3 << 20, 8 << 20};
    m.vms = {vm(k_test_domain, 40), vm("not-a-uuid", 1), vm(k_test_domain, std::nan("")),
             vm("0b7d3d0e-2f4c-4c53-9a55-3f1e2d4c5b6a", 5)};
    m.vms.back().disk_read_bytes = std::numeric_limits<std::uint64_t>::max();
    fleet::sample_rows rows;
    EXPECT_EQ(fleet::append_rows(rows, 7, m, now), 2u) << "the bad uuid and the NaN";
    // A host whose clock is a day behind is filed at the coordinator's time.
    auto skewed = m;
    skewed.at -= 24LL * 3600 * 1000;
    skewed.vms = {vm(k_test_domain, 41)};
    fleet::append_rows(rows, 8, skewed, now);
    ASSERT_EQ(rows.vms.size(), 3u);
    ASSERT_EQ(rows.hosts.size(), 2u);
    fleet::write_samples(conn, rows);

    EXPECT_EQ(query_text(conn, "SELECT count(*) FROM vm_samples"), "3");
    EXPECT_EQ(query_text(conn,
                         "SELECT string_agg(cpu_percent::text || '@' || host_id, ',' "
                         "ORDER BY cpu_percent) FROM vm_samples"),
              "5@7,40@7,41@8");
    EXPECT_EQ(query_text(conn, "SELECT disk_read FROM vm_samples WHERE cpu_percent = 5"),
              std::to_string(std::numeric_limits<std::int64_t>::max()));
    EXPECT_EQ(query_text(conn,
                         "SELECT count(*) FROM vm_samples "
                         "WHERE abs(extract(epoch FROM at - now())) < 60"),
              "3");
    EXPECT_EQ(query_text(conn,
                         "SELECT cpu_percent || ' ' || memory_used || ' ' || memory_total "
                         "FROM host_samples WHERE host_id = 7"),
              "12.5 3145728 8388608");

    pqxx::work old(conn);
    old.exec(
        "INSERT INTO vm_samples SELECT at - interval '2 hours', host_id, vm_uuid, "
        "cpu_percent, memory_used, disk_read, disk_write, net_rx, net_tx FROM vm_samples");
    old.exec(
        "INSERT INTO host_samples SELECT at - interval '2 hours', host_id, cpu_percent, "
        "memory_used, memory_total FROM host_samples");
    old.commit();
    EXPECT_EQ(fleet::prune_samples(conn, std::chrono::hours(1), 1000), 5);
    EXPECT_EQ(query_text(conn, "SELECT count(*) FROM vm_samples"), "3");
    EXPECT_EQ(query_text(conn, "SELECT count(*) FROM host_samples"), "2");
}

TEST(usage_samples, an_agents_samples_reach_the_customer_metrics_and_the_admin_running_state) {
    fleet_fixture fleet("  samples_flush: 100ms\n");
    const auto& url = fleet.database_url();
    ASSERT_EQ(fleet.enroll("hv-a", fleet.create_token()).status, 0);
    auto agent = fleet.start_agent("hv-a");
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "online"));
    const std::string samples =
        "SELECT count(*) FROM vm_samples WHERE vm_uuid = '" + k_test_domain + "'";
    ASSERT_TRUE(eventually([&] { return std::stoi(query_text(url, samples)) >= 3; }, 15s))
        << query_text(url, samples);
    EXPECT_NE(query_text(url, "SELECT count(*) FROM host_samples"), "0");

    // The domain becomes a customer's instance (as an import would make it).
    const api_client api(fleet.coordinator().port);
    const auto owner = sign_up(api, "owner@example.com");
    const auto other = sign_up(api, "other@example.com");
    const auto ops = sign_up(api, "ops@example.com");
    grant_role(url, ops.email, "admin");
    exec_sql(url,
             "INSERT INTO instances (uid, project_id, name, plan_id, image_id, status, "
             "power_state, host_id, libvirt_uuid, mac) SELECT 'ins_sampled', p.id, 'sampled', "
             "(SELECT min(id) FROM plans), (SELECT min(id) FROM os_images), 'running', "
             "'running', (SELECT id FROM hosts WHERE name = 'hv-a'), '" +
                 k_test_domain +
                 "', '52:54:00:00:00:01' FROM projects p JOIN users u ON u.id = p.owner_user_id "
                 "WHERE u.email = 'owner@example.com'");
    const auto project = first_project(api, owner.access_token);
    const std::string path = "/api/v1/projects/" + project + "/instances/ins_sampled/metrics";

    auto r = api.get(path, owner.access_token);
    ASSERT_EQ(r.status, 200) << r.raw;
    const json& m = r.body["metrics"];
    EXPECT_EQ(m["period"], "hour");
    EXPECT_EQ(m["step_seconds"], 60);
    ASSERT_TRUE(m["current"].is_object()) << r.raw;
    // test:///default's domain has 2 vCPUs and counts CPU time as wall time goes by.
    EXPECT_GT(m["current"]["cpu_percent"].get<double>(), 0.0) << r.raw;
    EXPECT_GT(m["current"]["memory_used_bytes"].get<std::int64_t>(), 0) << r.raw;
    ASSERT_GE(m["history"].size(), 1u) << r.raw;
    const json& point = m["history"].back();
    EXPECT_EQ(point["timestamp"].get<std::string>().size(), 20u) << point.dump();
    EXPECT_GT(point["cpu_percent"].get<double>(), 0.0);
    EXPECT_TRUE(point.contains("network_in_bytes_per_second"));

    r = api.get(path + "?start_time=2026-01-01T00:00:00Z&end_time=2026-01-02T00:00:00Z",
                owner.access_token);
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["metrics"]["period"], "custom");
    EXPECT_EQ(r.body["metrics"]["from"], "2026-01-01T00:00:00Z");
    EXPECT_EQ(r.body["metrics"]["step_seconds"], 288);
    EXPECT_EQ(r.body["metrics"]["history"].size(), 0u) << "no samples that day";

    for (const std::string bad :
         {"?period=year", "?start_time=yesterday", "?start_time=2026-02-30T00:00:00Z",
          "?start_time=2026-01-02T00:00:00Z&end_time=2026-01-01T00:00:00Z",
          "?start_time=2025-01-01T00:00:00Z&end_time=2026-01-01T00:00:00Z"}) {
        r = api.get(path + bad, owner.access_token);
        EXPECT_EQ(r.status, 400) << bad << " -> " << r.raw;
        EXPECT_EQ(r.body["error"]["code"], "invalid_request") << r.raw;
    }
    EXPECT_EQ(api.get("/api/v1/projects/" + first_project(api, other.access_token) +
                          "/instances/ins_sampled/metrics",
                      other.access_token)
                  .status,
              404);
    EXPECT_EQ(api.get(path, other.access_token).status, 404);

    // The admin API's running_state carries the latest sample.
    const std::string id = query_text(url, "SELECT id FROM instances WHERE uid = 'ins_sampled'");
    r = api.call("GET", "/api/admin/v1/vms/" + id, nullptr, api_client::bearer(ops.access_token));
    ASSERT_EQ(r.status, 200) << r.raw;
    const json& state = r.body["data"]["running_state"];
    EXPECT_GT(state["cpu_usage"].get<double>(), 0.0) << state.dump();
    EXPECT_GT(state["mem_usage"].get<double>(), 0.0) << state.dump();

    const auto metrics = fleet.scrape();
    EXPECT_NE(metrics.find("vpsfleet_coordinator_fleet_samples_total{outcome=\"stored\"}"),
              std::string::npos)
        << metrics;
    // Every liveness flush observes how long the host's messages waited to be recorded.
    const std::string lag = "vpsfleet_coordinator_fleet_heartbeat_lag_seconds_count ";
    const auto at = metrics.find(lag);
    ASSERT_NE(at, std::string::npos) << metrics;
    EXPECT_GE(std::stod(metrics.substr(at + lag.size())), 1.0) << metrics;
}
