// The admin API's VM power actions on real parts: a coordinator, PostgreSQL and an enrolled agent
// on libvirt's test:/// driver. A customer's VM, running on the host, is stopped and started
// again by an operator; the host's own inventory shows each change, and the VM's history names
// the operator; the job feedback WebSocket follows the start job from Started to Completed.
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/fleet_fixture.hpp"
#include "tests/integration/test_helpers.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/ws_test_client.hpp"

#include <gtest/gtest.h>

using namespace vpsfleet::testing;
using json = nlohmann::json;

TEST(admin_vms_e2e, an_operator_stops_and_starts_a_customers_vm_on_its_host) {
    fleet_fixture fleet;
    auto agent = fleet.start_catalog_host_agent("hv-a");
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "online"));
    const auto& url = fleet.database_url();
    const std::string host = fleet.give_host_room("hv-a");
    exec_sql(
        url,
        "INSERT INTO ip_ranges (cidr, gateway, region_id) VALUES ('10.9.0.0/24', '10.9.0.1', 1)");

    const api_client api(fleet.coordinator().port);
    const auto customer = sign_up(api, "owner@example.com");
    const auto operator_account = sign_up(api, "ops@example.com");
    grant_role(url, operator_account.email, "admin");
    const auto admin = [&](const std::string& method, const std::string& path) {
        return api.call(method, "/api/admin/v1" + path, nullptr,
                        api_client::bearer(operator_account.access_token));
    };
    const std::string operator_id =
        query_text(url, "SELECT id FROM users WHERE email = 'ops@example.com'");

    const std::string project = api.get("/api/v1/projects", customer.access_token).body[0]["uid"];
    const auto ordered = api.post("/api/v1/projects/" + project + "/instances",
                                  instance_order("web-01"), customer.access_token);
    ASSERT_EQ(ordered.status, 202) << ordered.raw;
    const std::string uid = ordered.body["instance"]["uid"];
    const std::string vm = query_text(url, "SELECT id FROM instances WHERE uid = '" + uid + "'");
    const std::string path = "/vms/" + vm;
    const auto state_is = [&](const std::string& state) {
        const auto r = admin("GET", path);
        return r.status == 200 && r.body["data"]["running_state"].is_object() &&
               r.body["data"]["running_state"]["state"] == state;
    };
    ASSERT_TRUE(eventually([&] { return state_is("running"); })) << admin("GET", path).raw;

    auto r = admin("GET", "/vms?host_id=" + host);
    ASSERT_EQ(r.status, 200) << r.raw;
    ASSERT_EQ(r.body["total"], 1);
    EXPECT_EQ(r.body["data"][0]["host_name"], "hv-a");
    EXPECT_EQ(r.body["data"][0]["region_name"], "default");
    EXPECT_EQ(r.body["data"][0]["user_email"], "owner@example.com");
    const json addresses = r.body["data"][0]["ip_addresses"];
    ASSERT_EQ(addresses.size(), 1u) << r.raw;
    EXPECT_EQ(addresses[0]["ip"].get<std::string>().substr(0, 7), "10.9.0.");
    EXPECT_EQ(addresses[0]["range_id"].dump(),
              query_text(url, "SELECT id FROM ip_ranges WHERE cidr = '10.9.0.0/24'"));
    EXPECT_EQ(admin("GET", "/vms?region_id=1").body["total"], 1);
    EXPECT_EQ(admin("POST", path + "/start").status, 409) << "already running";

    const std::string domain_state =
        "SELECT state FROM host_domains WHERE host_id = " + host + " AND name = '" + uid + "'";
    r = admin("POST", path + "/stop");
    ASSERT_EQ(r.status, 200) << r.raw;
    const std::string stop_job = r.body["data"]["job_id"];
    EXPECT_TRUE(eventually([&] {
        return query_text(url, "SELECT state FROM jobs WHERE uid = '" + stop_job + "'") ==
               "completed";
    })) << query_text(url, "SELECT error FROM jobs WHERE uid = '" + stop_job + "'");
    // The host itself reports the domain off.
    EXPECT_TRUE(eventually([&] {
        const auto s = query_text(url, domain_state);
        return !s.empty() && s != "running";
    })) << query_text(url, domain_state);
    EXPECT_TRUE(eventually([&] { return state_is("stopped"); })) << admin("GET", path).raw;

    r = admin("GET", path + "/history?limit=1");
    ASSERT_EQ(r.status, 200) << r.raw;
    const json stopped = r.body["data"][0];
    EXPECT_EQ(stopped["action_type"], "stopped");
    EXPECT_EQ(stopped["initiated_by_user"].dump(), operator_id);
    EXPECT_EQ(stopped["initiated_by_user_email"], "ops@example.com");
    EXPECT_NE(stopped["description"].get<std::string>().find(stop_job), std::string::npos);

    // The job feedback WebSocket, for every job, sees the operator's start from its beginning.
    ws_test_client all_jobs;
    ASSERT_EQ(all_jobs.connect_plain(fleet.coordinator().port, "/api/admin/v1/jobs/feedback?auth=" +
                                                                   operator_account.access_token),
              "");
    ASSERT_TRUE(all_jobs.receive());  // connected
    r = admin("POST", path + "/start");
    ASSERT_EQ(r.status, 200) << r.raw;
    const std::string start_job = r.body["data"]["job_id"];
    EXPECT_TRUE(eventually([&] { return query_text(url, domain_state) == "running"; }))
        << query_text(url, domain_state);
    // Connected after the fact, the job's own feed still tells its whole story.
    ws_test_client one_job;
    ASSERT_EQ(one_job.connect_plain(fleet.coordinator().port,
                                    "/api/admin/v1/jobs/feedback?job_id=" + start_job +
                                        "&auth=" + operator_account.access_token),
              "");
    ASSERT_TRUE(one_job.receive());  // connected
    for (auto* feed : {&one_job, &all_jobs}) {
        std::vector<json> statuses;
        while (const auto message = feed->receive(std::chrono::seconds(10))) {
            const json m = json::parse(*message);
            ASSERT_EQ(m["type"], "job_feedback") << m.dump();
            const json& f = m["feedback"];
            if (f["job_id"] != start_job) continue;  // the global feed carries others too
            EXPECT_EQ(f["job_type"], "StartVm") << f.dump();
            EXPECT_FALSE(f["worker_id"].get<std::string>().empty()) << f.dump();
            EXPECT_EQ(f["timestamp"].get<std::string>().size(), 20u) << f.dump();
            statuses.push_back(f["status"]);
            if (f["status"].contains("Completed") || f["status"].contains("Failed")) break;
        }
        ASSERT_GE(statuses.size(), 2u);
        EXPECT_EQ(statuses.front(), "Started");
        EXPECT_TRUE(statuses.back().contains("Completed")) << statuses.back().dump();
        for (std::size_t i = 1; i + 1 < statuses.size(); ++i)
            EXPECT_TRUE(statuses[i].contains("Progress")) << statuses[i].dump();
    }
    r = admin("GET", "/jobs/" + start_job);
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["data"]["state"], "completed");
    EXPECT_EQ(r.body["data"]["job_type"], "StartVm");
    EXPECT_EQ(r.body["data"]["created_by_user_id"].dump(), operator_id);
    // The create, stop and start jobs are counted for the job failure alert.
    const auto scrape = http_get("127.0.0.1", fleet.coordinator().port, "/metrics").body;
    const std::string completed = "vpsfleet_coordinator_jobs_total{outcome=\"completed\"} ";
    const auto at = scrape.find(completed);
    ASSERT_NE(at, std::string::npos) << scrape;
    EXPECT_GE(std::stod(scrape.substr(at + completed.size())), 3.0);
    EXPECT_TRUE(eventually([&] { return state_is("running"); })) << admin("GET", path).raw;

    // Newest first: started and stopped by the operator, started and created for the customer.
    r = admin("GET", path + "/history");
    std::vector<std::string> actions;
    for (const auto& h : r.body["data"]) actions.push_back(h["action_type"]);
    ASSERT_GE(actions.size(), 4u) << r.raw;
    EXPECT_EQ(actions[0], "started");
    EXPECT_EQ(actions[1], "stopped");
    EXPECT_EQ(actions[2], "started");
    EXPECT_EQ(actions.back(), "created");
    EXPECT_EQ(r.body["data"][2]["initiated_by_user_email"], "owner@example.com");
}

// POST /vms: an operator builds a VM for a customer from a template, an image and one of the
// customer's account SSH keys. Bad requests are refused with nothing written; the good one
// queues a CreateVm job whose VM runs on the host, owned by the customer, named in history.
TEST(admin_vms_e2e, an_operator_creates_a_vm_for_a_user_with_their_ssh_key_and_it_runs) {
    fleet_fixture fleet;
    auto agent = fleet.start_catalog_host_agent("hv-a");
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "online"));
    const auto& url = fleet.database_url();
    fleet.give_host_room("hv-a");

    const api_client api(fleet.coordinator().port);
    const auto owner = sign_up(api, "owner@example.com");
    sign_up(api, "other@example.com");
    const auto ops = sign_up(api, "ops@example.com");
    grant_role(url, ops.email, "admin");
    const auto viewer = sign_up(api, "viewer@example.com");
    grant_role(url, viewer.email, "read_only");
    const auto create = [&](const json& body, const std::string& token) {
        return api.call("POST", "/api/admin/v1/vms", body, api_client::bearer(token));
    };
    const auto add_key = [&](const std::string& email, const std::string& name) {
        exec_sql(url,
                 "INSERT INTO account_ssh_keys (uid, user_id, name, public_key, fingerprint) "
                 "SELECT 'key_" +
                     name + "', id, '" + name +
                     "', 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB1e9yPvZt9q8oN0X " + name +
                     "', 'SHA256:' || repeat('" + name.substr(0, 1) +
                     "', 43) FROM users WHERE email = '" + email + "'");
        return query_text(url, "SELECT id FROM account_ssh_keys WHERE uid = 'key_" + name + "'");
    };
    const json user_id =
        std::stoll(query_text(url, "SELECT id FROM users WHERE email = 'owner@example.com'"));
    const json key = std::stoll(add_key("owner@example.com", "laptop"));
    const json others_key = std::stoll(add_key("other@example.com", "desk"));
    const json plan = std::stoll(query_text(url, "SELECT id FROM plans WHERE code = 'bxs-1'"));
    const json image =
        std::stoll(query_text(url, "SELECT id FROM os_images WHERE uid = 'img_debian12'"));
    const json good = {{"user_id", user_id},      {"template_id", plan},
                       {"image_id", image},       {"ssh_key_id", key},
                       {"ref_code", "PROMO2025"}, {"reason", "migrated from the old panel"}};
    const auto with = [&](const std::string& field, const json& value) {
        json body = good;
        if (value.is_null())
            body.erase(field);
        else
            body[field] = value;
        return body;
    };

    struct refusal {
        json body;
        int status;
        std::string code;
    };
    const std::vector<refusal> refusals = {
        {with("user_id", nullptr), 400, ""},    {with("template_id", "one"), 400, ""},
        {with("image_id", -3), 400, ""},        {with("ssh_key_id", nullptr), 400, ""},
        {with("ref_code", ""), 400, ""},        {with("user_id", 999999), 404, ""},
        {with("template_id", 999999), 404, ""}, {with("image_id", 999999), 404, ""},
        {with("ssh_key_id", 999999), 404, ""},  {with("ssh_key_id", others_key), 400, ""},
    };
    for (const auto& r : refusals) {
        const auto reply = create(r.body, ops.access_token);
        EXPECT_EQ(reply.status, r.status) << r.body.dump() << " -> " << reply.raw;
        EXPECT_TRUE(reply.body.contains("error")) << reply.raw;
    }
    EXPECT_EQ(create(good, viewer.access_token).status, 403);
    EXPECT_EQ(query_text(url, "SELECT count(*) FROM instances"), "0");
    EXPECT_EQ(query_text(url, "SELECT count(*) FROM jobs"), "0");

    const auto created = create(good, ops.access_token);
    ASSERT_EQ(created.status, 200) << created.raw;
    ASSERT_EQ(created.body["data"].size(), 1u) << created.raw;
    const std::string job = created.body["data"]["job_id"];
    ASSERT_TRUE(eventually(
        [&] {
            return query_text(url, "SELECT state FROM jobs WHERE uid = '" + job + "'") ==
                   "completed";
        },
        std::chrono::seconds(30)))
        << query_text(url, "SELECT error FROM jobs WHERE uid = '" + job + "'");

    const auto admin_get = [&](const std::string& path) {
        return api.call("GET", "/api/admin/v1" + path, nullptr,
                        api_client::bearer(ops.access_token));
    };
    auto r = admin_get("/vms?user_id=" + user_id.dump());
    ASSERT_EQ(r.status, 200) << r.raw;
    ASSERT_EQ(r.body["total"], 1) << r.raw;
    const json vm = r.body["data"][0];
    EXPECT_EQ(vm["user_email"], "owner@example.com");
    EXPECT_EQ(vm["template_id"], plan);
    EXPECT_EQ(vm["image_id"], image);
    EXPECT_EQ(vm["ssh_key_id"], key);
    EXPECT_EQ(vm["ssh_key_name"], "laptop");
    EXPECT_EQ(vm["ref_code"], "PROMO2025");
    EXPECT_EQ(vm["host_name"], "hv-a");
    const std::string path = "/vms/" + vm["id"].dump();
    EXPECT_TRUE(eventually([&] {
        const auto one = admin_get(path);
        return one.body["data"]["running_state"].is_object() &&
               one.body["data"]["running_state"]["state"] == "running";
    })) << admin_get(path).raw;
    // The host itself runs the domain, built with the customer's key.
    const std::string uid =
        query_text(url, "SELECT uid FROM instances WHERE id = " + vm["id"].dump());
    EXPECT_TRUE(eventually([&] {
        return query_text(url, "SELECT state FROM host_domains WHERE name = '" + uid + "'") ==
               "running";
    }));
    EXPECT_EQ(
        query_text(url, "SELECT ssh_keys_snapshot->>0 FROM instances WHERE uid = '" + uid + "'"),
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB1e9yPvZt9q8oN0X laptop");
    // The customer sees it in their own project.
    const std::string& token = owner.access_token;
    const std::string project = api.get("/api/v1/projects", token).body[0]["uid"];
    r = api.get("/api/v1/projects/" + project + "/instances/" + uid, token);
    EXPECT_EQ(r.status, 200) << r.raw;

    r = admin_get(path + "/history?limit=50");
    ASSERT_EQ(r.status, 200) << r.raw;
    const json oldest = r.body["data"].back();
    EXPECT_EQ(oldest["action_type"], "created");
    EXPECT_EQ(oldest["initiated_by_user_email"], "ops@example.com");
    EXPECT_NE(oldest["description"].get<std::string>().find("migrated from the old panel"),
              std::string::npos)
        << oldest.dump();
    EXPECT_EQ(query_text(url, "SELECT after->>'reason' FROM audit_log WHERE action = 'vm.create'"),
              "migrated from the old panel");
    r = admin_get("/jobs/" + job);
    EXPECT_EQ(r.body["data"]["job_type"], "CreateVm") << r.raw;
}
