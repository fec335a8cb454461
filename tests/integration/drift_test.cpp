// Reconciliation on real parts: a coordinator process and PostgreSQL, and an enrolled agent on
// libvirt's test:///default host (one running domain, "test"). What the host reports and what
// the database places on it are compared after every inventory report and periodically: a
// domain nobody manages, an instance missing from its host and a power state that differs are
// recorded as drift findings, resolved when they stop holding, shown in the admin API, counted
// in /metrics, and never acted on. A host that goes down leaves its instances `unknown`.
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/fleet_fixture.hpp"
#include "tests/integration/test_helpers.hpp"

#include <gtest/gtest.h>

#include <signal.h>

using namespace vpsfleet::testing;
using namespace std::chrono_literals;

namespace {

const std::string k_test_domain = "6695eb01-f6a4-8304-79aa-97f2502e193f";

// The open findings as "kind:resource_name" lines in a stable order.
std::string open_findings(const std::string& url) {
    return query_text(url,
                      "SELECT string_agg(kind || ':' || resource_name, ',' ORDER BY kind, "
                      "resource_name) FROM drift_findings WHERE resolved_at IS NULL");
}

std::string power_state(const std::string& url, const std::string& uid) {
    return query_text(url, "SELECT power_state FROM instances WHERE uid = '" + uid + "'");
}

// An instance row as the create job leaves it, placed on `host` with the given domain uuid.
void place_instance(const std::string& url, const std::string& owner, const std::string& uid,
                    const std::string& host, const std::string& uuid, const std::string& status) {
    exec_sql(
        url,
        "INSERT INTO instances (uid, project_id, name, plan_id, image_id, status, power_state, "
        "host_id, libvirt_uuid, mac) SELECT '" +
            uid + "', p.id, '" + uid.substr(4) +
            "', (SELECT min(id) FROM plans), (SELECT min(id) FROM os_images), '" + status + "', '" +
            status + "', (SELECT id FROM hosts WHERE name = '" + host + "'), '" + uuid +
            "', '52:54:00:00:00:01' FROM projects p JOIN users u ON u.id = p.owner_user_id "
            "WHERE u.email = '" +
            owner + "'");
}

}  // namespace

TEST(drift, host_and_database_differences_are_recorded_resolved_and_never_acted_on) {
    fleet_fixture fleet("  reconcile_interval: 200ms\n");
    const auto& url = fleet.database_url();
    ASSERT_EQ(fleet.enroll("hv-a", fleet.create_token()).status, 0);
    auto agent = fleet.start_agent("hv-a");
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "online"));

    // The host's own domain belongs to no instance.
    EXPECT_TRUE(eventually([&] { return open_findings(url) == "unmanaged:test"; }, 15s))
        << open_findings(url);

    const api_client api(fleet.coordinator().port);
    const auto owner = sign_up(api, "owner@example.com");
    const auto ops = sign_up(api, "ops@example.com");
    grant_role(url, ops.email, "super_admin");
    const auto viewer = sign_up(api, "viewer@example.com");
    grant_role(url, viewer.email, "read_only");

    // The database now says the domain is a stopped instance, and places a running instance
    // on the host that the host does not have.
    place_instance(url, owner.email, "ins_claimed", "hv-a", k_test_domain, "stopped");
    place_instance(url, owner.email, "ins_ghost", "hv-a", "0b7d3d0e-2f4c-4c53-9a55-3f1e2d4c5b6a",
                   "running");
    EXPECT_TRUE(eventually(
        [&] { return open_findings(url) == "drift:ins_claimed,missing:ins_ghost"; }, 15s))
        << open_findings(url);
    EXPECT_EQ(query_text(url,
                         "SELECT count(*) FROM drift_findings WHERE kind = 'unmanaged' AND "
                         "resolved_at IS NOT NULL"),
              "1");
    // The host says the claimed instance runs; its status stays what the database decided.
    EXPECT_EQ(power_state(url, "ins_claimed"), "running");
    EXPECT_EQ(query_text(url, "SELECT status FROM instances WHERE uid = 'ins_claimed'"), "stopped");

    // The admin API shows them, most urgent kinds marked so.
    const auto admin = [&](const std::string& method, const std::string& path,
                           const std::string& token) {
        return api.call(method, "/api/admin/v1" + path, nullptr, api_client::bearer(token));
    };
    auto r = admin("GET", "/drift/events?kind=missing", viewer.access_token);
    ASSERT_EQ(r.status, 200) << r.raw;
    ASSERT_EQ(r.body["total"], 1) << r.raw;
    const auto missing = r.body["data"][0];
    EXPECT_EQ(missing["resource_name"], "ins_ghost");
    EXPECT_EQ(missing["severity"], "critical");
    EXPECT_EQ(missing["host_name"], "hv-a");
    EXPECT_EQ(missing["old_value"], "running");
    EXPECT_TRUE(missing["new_value"].is_null());
    r = admin("GET", "/drift/events?kind=drift", viewer.access_token);
    ASSERT_EQ(r.body["total"], 1) << r.raw;
    EXPECT_EQ(r.body["data"][0]["field_name"], "power_state");
    EXPECT_EQ(r.body["data"][0]["old_value"], "stopped");
    EXPECT_EQ(r.body["data"][0]["new_value"], "running");
    r = admin("GET", "/drift/events?status=all", viewer.access_token);
    EXPECT_EQ(r.body["total"], 3) << r.raw;
    EXPECT_EQ(admin("GET", "/drift/events?kind=lost", viewer.access_token).status, 400);
    r = admin("GET", "/drift/summary", viewer.access_token);
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["data"]["open_events"], 2);
    EXPECT_EQ(r.body["data"]["by_severity"]["critical"], 1);

    const std::string ack = "/drift/events/" + missing["id"].dump() + "/acknowledge";
    EXPECT_EQ(admin("PUT", ack, viewer.access_token).status, 403);
    r = admin("PUT", ack, ops.access_token);
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["data"]["acknowledged"], true);
    EXPECT_EQ(r.body["data"]["acknowledged_by"], "ops@example.com");
    EXPECT_EQ(admin("GET", "/drift/events?acknowledged=false", viewer.access_token).body["total"],
              1);
    EXPECT_EQ(admin("GET", "/drift/events/999999", viewer.access_token).status, 404);

    // Someone stops the domain behind the database's back: the host now agrees with the
    // database, so the drift resolves; the missing instance is still missing, and nothing was
    // recreated or started.
    const auto stopped = fleet.send_command("hv-a", "domain.stop", R"({"domain":"test"})");
    ASSERT_EQ(stopped.status, 0) << stopped.output;
    EXPECT_TRUE(eventually([&] { return open_findings(url) == "missing:ins_ghost"; }, 15s))
        << open_findings(url);
    EXPECT_EQ(power_state(url, "ins_claimed"), "stopped");
    EXPECT_EQ(
        query_text(url, "SELECT state FROM host_domains WHERE uuid = '" + k_test_domain + "'"),
        "shutoff");
    EXPECT_EQ(query_text(url, "SELECT count(*) FROM host_domains"), "1");
    EXPECT_EQ(query_text(url, "SELECT count(*) FROM commands"), "1");
    EXPECT_EQ(query_text(url, "SELECT status FROM instances WHERE uid = 'ins_ghost'"), "running");

    const auto metrics = fleet.scrape();
    EXPECT_NE(metrics.find(R"(vpsfleet_coordinator_drift_findings_total{kind="missing"} 1)"),
              std::string::npos)
        << metrics;
    EXPECT_NE(metrics.find(R"(vpsfleet_coordinator_drift_findings_resolved_total{kind="drift"} 1)"),
              std::string::npos);

    // A host that goes down: what runs there is unknown, never `stopped`.
    agent.process->signal(SIGKILL);
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "down", 10s));
    EXPECT_EQ(power_state(url, "ins_claimed"), "unknown");
    EXPECT_EQ(power_state(url, "ins_ghost"), "unknown");
    EXPECT_EQ(query_text(url, "SELECT status FROM instances WHERE uid = 'ins_claimed'"), "stopped");

    // Back: reconciled at its first inventory.
    auto again = fleet.start_agent("hv-a");
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "online"));
    EXPECT_TRUE(eventually([&] { return power_state(url, "ins_claimed") == "running"; }, 15s))
        << power_state(url, "ins_claimed");
    EXPECT_TRUE(eventually(
        [&] { return open_findings(url) == "drift:ins_claimed,missing:ins_ghost"; }, 15s))
        << open_findings(url);

    // A coordinator restarted while the database changed: the agent comes back to the new
    // process and its first inventory is reconciled against what the database now says.
    fleet.coordinator().process->signal(SIGKILL);
    fleet.coordinator().process->wait_exit(5s);
    exec_sql(url, "UPDATE instances SET status = 'running' WHERE uid = 'ins_claimed'");
    place_instance(url, owner.email, "ins_later", "hv-a", "5d0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
                   "stopped");
    fleet.restart_coordinator();
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "online"));
    EXPECT_TRUE(eventually(
        [&] { return open_findings(url) == "missing:ins_ghost,missing:ins_later"; }, 15s))
        << open_findings(url);
    EXPECT_EQ(again.terminate(5s), 0);
}
