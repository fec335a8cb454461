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

#include <thread>

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

// POST /drift/events/{id}/import: the domain nobody manages becomes a user's VM, as it runs, on
// its host; the finding is resolved by it and stays resolved, and nothing is sent to the host.
TEST(drift, an_unmanaged_domain_is_imported_as_a_users_vm_and_stays_resolved) {
    fleet_fixture fleet("  reconcile_interval: 200ms\n");
    const auto& url = fleet.database_url();
    ASSERT_EQ(fleet.enroll("hv-a", fleet.create_token()).status, 0);
    auto agent = fleet.start_agent("hv-a");
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "online"));
    ASSERT_TRUE(eventually([&] { return open_findings(url) == "unmanaged:test"; }, 15s))
        << open_findings(url);

    const api_client api(fleet.coordinator().port);
    const auto owner = sign_up(api, "owner@example.com");
    const auto ops = sign_up(api, "ops@example.com");
    grant_role(url, ops.email, "admin");
    const auto viewer = sign_up(api, "viewer@example.com");
    grant_role(url, viewer.email, "read_only");
    const std::string finding =
        query_text(url, "SELECT id FROM drift_findings WHERE kind = 'unmanaged'");
    const auto import = [&](const nlohmann::json& body, const std::string& token,
                            const std::string& id) {
        return api.call("POST", "/api/admin/v1/drift/events/" + id + "/import", body,
                        api_client::bearer(token));
    };
    const nlohmann::json good = {
        {"user_id",
         std::stoll(query_text(url, "SELECT id FROM users WHERE email = '" + owner.email + "'"))},
        {"template_id", std::stoll(query_text(url, "SELECT id FROM plans WHERE code = 'bxs-1'"))},
        {"image_id",
         std::stoll(query_text(url, "SELECT id FROM os_images WHERE uid = 'img_debian12'"))},
        {"mac_address", "52:54:00:aa:bb:cc"},
        {"reason", "built by hand before vpsfleet"}};
    auto with = [&](const std::string& field, const nlohmann::json& value) {
        auto body = good;
        body[field] = value;
        return body;
    };

    EXPECT_EQ(import(good, viewer.access_token, finding).status, 403);
    EXPECT_EQ(import(with("user_id", nullptr), ops.access_token, finding).status, 400);
    EXPECT_EQ(import(with("mac_address", "52:54"), ops.access_token, finding).status, 400);
    EXPECT_EQ(import(with("user_id", 999999), ops.access_token, finding).status, 404);
    EXPECT_EQ(import(good, ops.access_token, "999999").status, 404);
    // The host has no disk in the books yet, so the VM's disk cannot be reserved anywhere.
    auto r = import(good, ops.access_token, finding);
    EXPECT_EQ(r.status, 409) << r.raw;
    EXPECT_NE(r.body["error"].get<std::string>().find("no disk"), std::string::npos) << r.raw;
    EXPECT_EQ(query_text(url, "SELECT count(*) FROM instances"), "0");
    EXPECT_EQ(open_findings(url), "unmanaged:test");

    fleet.give_host_room("hv-a");
    r = import(good, ops.access_token, finding);
    ASSERT_EQ(r.status, 200) << r.raw;
    const auto vm = r.body["data"];
    EXPECT_EQ(vm["user_email"], owner.email);
    EXPECT_EQ(vm["host_name"], "hv-a");
    EXPECT_EQ(vm["mac_address"], "52:54:00:aa:bb:cc");
    EXPECT_EQ(vm["template_id"], good["template_id"]);
    EXPECT_EQ(vm["running_state"]["state"], "running") << vm.dump();
    const std::string id = vm["id"].dump();
    EXPECT_EQ(query_text(url,
                         "SELECT libvirt_uuid::text || ' ' || status || ' ' || power_state "
                         "FROM instances WHERE id = " +
                             id),
              k_test_domain + " running running");
    EXPECT_EQ(
        query_text(url, "SELECT disk FROM host_allocations WHERE vm_id = " + id),
        query_text(url, "SELECT disk_gb::bigint * 1073741824 FROM plans WHERE code = 'bxs-1'"));
    EXPECT_EQ(query_text(url, "SELECT instance_id FROM drift_findings WHERE id = " + finding), id);

    // Later reconciliations find the domain managed: no new finding, and the host was never
    // sent anything.
    std::this_thread::sleep_for(1500ms);
    EXPECT_EQ(open_findings(url), "");
    EXPECT_EQ(query_text(url, "SELECT count(*) FROM drift_findings"), "1")
        << query_text(url, "SELECT string_agg(row_to_json(f)::text, ' ') FROM drift_findings f");
    EXPECT_EQ(query_text(url, "SELECT count(*) FROM commands"), "0");

    r = import(good, ops.access_token, finding);
    EXPECT_EQ(r.status, 409) << r.raw;
    EXPECT_EQ(query_text(url, "SELECT count(*) FROM instances"), "1");
    const auto project = first_project(api, owner.access_token);
    const std::string uid = query_text(url, "SELECT uid FROM instances WHERE id = " + id);
    r = api.get("/api/v1/projects/" + project + "/instances/" + uid, owner.access_token);
    EXPECT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["instance"]["name"], "test") << r.raw;
    r = api.call("GET", "/api/admin/v1/vms/" + id + "/history", nullptr,
                 api_client::bearer(ops.access_token));
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_NE(
        r.body["data"].back()["description"].get<std::string>().find("imported from domain 'test'"),
        std::string::npos)
        << r.raw;
}
