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
