// The customer API's whole instance flow on real parts: a coordinator process and PostgreSQL,
// and two enrolled agents on libvirt's test:/// driver over mutual TLS. A customer signs up,
// makes a project and an API key, and with the key alone orders an instance, which its job
// places on one of the hosts; the key then reboots, stops, starts, resizes, rebuilds and
// deletes it. The hosts' own inventory (host_domains) shows each change.
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/fleet_fixture.hpp"
#include "tests/integration/test_helpers.hpp"

#include <gtest/gtest.h>

#include <algorithm>

using namespace vpsfleet::testing;
using json = nlohmann::json;

namespace {

// The hosts (by name) whose inventory holds `instance`, and its state there: "hv-b:running".
std::string where(const std::string& url, const std::string& instance) {
    return query_text(url,
                      "SELECT string_agg(h.name || ':' || d.state, ',' ORDER BY h.name) "
                      "FROM host_domains d JOIN hosts h ON h.id = d.host_id WHERE d.name = '" +
                          instance + "'");
}

}  // namespace

TEST(instances_e2e, a_customer_builds_and_drives_an_instance_with_an_api_key_alone) {
    fleet_fixture fleet;
    auto agent_a = fleet.start_catalog_host_agent("hv-a");
    auto agent_b = fleet.start_catalog_host_agent("hv-b");
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "online"));
    ASSERT_TRUE(fleet.wait_for_state("hv-b", "online"));
    const auto& url = fleet.database_url();
    fleet.give_host_room("hv-a");
    fleet.give_host_room("hv-b");
    add_resize_plans(url);

    const api_client api(fleet.coordinator().port);
    const auto user = sign_up(api, "owner@example.com");
    const auto made = api.post("/api/v1/projects", {{"name", "Production"}}, user.access_token);
    ASSERT_EQ(made.status, 201) << made.raw;
    const std::string project = made.body["uid"];
    const std::string base = "/api/v1/projects/" + project;
    // READ_VPS | VPS_CONTROL | VPS_DELETE | ORDER_PRODUCT: what a deploy script needs.
    const auto key =
        api.post(base + "/api-keys", {{"name", "deploy"}, {"permissions", 15}}, user.access_token);
    ASSERT_EQ(key.status, 201) << key.raw;
    const std::string secret = key.body["secret"];
    const auto as_key = [&](const std::string& method, const std::string& path,
                            const json& body = nullptr) {
        return api.call(method, base + path, body, api_client::bearer(secret));
    };
    const auto job_status = [&](const api_reply& accepted) {
        const json& job = accepted.body.contains("job") ? accepted.body["job"] : accepted.body;
        return finished_job(api, project, job["uid"], secret)["status"].get<std::string>();
    };

    const auto plans = api.get("/api/v1/plans", secret);
    ASSERT_EQ(plans.status, 200) << plans.raw;
    const auto& listed = plans.body["plans"];
    const auto bxs1 = std::find_if(listed.begin(), listed.end(),
                                   [](const json& plan) { return plan["code"] == "bxs-1"; });
    ASSERT_NE(bxs1, listed.end()) << plans.raw;
    EXPECT_EQ((*bxs1)["memoryMb"], 2048);

    const auto created = as_key("POST", "/instances", instance_order("web-01"));
    ASSERT_EQ(created.status, 202) << created.raw;
    EXPECT_EQ(created.body["instance"]["status"], "queued");
    EXPECT_EQ(created.body["job"]["type"], "instance.create");
    const std::string instance = created.body["instance"]["uid"];
    const std::string path = "/instances/" + instance;
    const auto create_job = finished_job(api, project, created.body["job"]["uid"], secret);
    ASSERT_EQ(create_job["status"], "succeeded") << create_job.dump();
    EXPECT_EQ(create_job["progress"]["percent"], 100) << create_job.dump();
    const auto running = as_key("GET", path);
    ASSERT_EQ(running.status, 200) << running.raw;
    EXPECT_EQ(running.body["instance"]["status"], "running");
    EXPECT_EQ(running.body["instance"]["plan_code"], "bxs-1");
    // On exactly one of the two hosts, running there.
    ASSERT_TRUE(eventually([&] {
        const auto w = where(url, instance);
        return w == "hv-a:running" || w == "hv-b:running";
    })) << where(url, instance);
    const std::string on = where(url, instance).substr(0, 4);

    const auto start_running = as_key("POST", path + "/actions", {{"type", "start"}});
    EXPECT_EQ(start_running.status, 409) << start_running.raw;
    EXPECT_EQ(start_running.body["error"]["code"], "invalid_state");

    const std::string reboots =
        "SELECT count(*) FROM commands c JOIN hosts h ON h.id = c.host_id "
        "WHERE c.kind = 'vm.reboot' AND h.name = '" +
        on + "'";
    const auto reboot = as_key("POST", path + "/actions", {{"type", "reboot"}});
    ASSERT_EQ(reboot.status, 202) << reboot.raw;
    EXPECT_EQ(job_status(reboot), "succeeded");
    EXPECT_EQ(query_text(url, reboots), "1") << "the reboot went to the instance's host";

    const auto stop = as_key("POST", path + "/actions", {{"type", "stop"}});
    ASSERT_EQ(stop.status, 202) << stop.raw;
    EXPECT_EQ(job_status(stop), "succeeded");
    EXPECT_EQ(as_key("GET", path).body["instance"]["power_state"], "stopped");
    EXPECT_TRUE(eventually([&] { return where(url, instance) == on + ":shutoff"; }))
        << where(url, instance);

    const auto start = as_key("POST", path + "/actions", {{"type", "start"}});
    ASSERT_EQ(start.status, 202) << start.raw;
    EXPECT_EQ(job_status(start), "succeeded");
    EXPECT_EQ(as_key("GET", path).body["instance"]["status"], "running");
    EXPECT_TRUE(eventually([&] { return where(url, instance) == on + ":running"; }))
        << where(url, instance);

    const auto resize = as_key("POST", path + "/resize", {{"plan", "bxs-2-4s"}});
    ASSERT_EQ(resize.status, 202) << resize.raw;
    EXPECT_EQ(job_status(resize), "succeeded");
    const auto resized = as_key("GET", path).body["instance"];
    EXPECT_EQ(resized["plan_code"], "bxs-2-4s");
    EXPECT_EQ(resized["status"], "running");
    EXPECT_EQ(query_text(url,
                         "SELECT a.cpu || '/' || a.memory FROM host_allocations a JOIN "
                         "instances i ON i.allocation_id = a.id WHERE i.uid = '" +
                             instance + "'"),
              "2/4294967296");

    const auto rebuild =
        as_key("POST", path + "/rebuild", {{"source", {{"image", "img_ubuntu2404"}}}});
    ASSERT_EQ(rebuild.status, 202) << rebuild.raw;
    EXPECT_EQ(job_status(rebuild), "succeeded");
    EXPECT_EQ(as_key("GET", path).body["instance"]["image_name"], "Ubuntu 24.04 LTS");
    EXPECT_TRUE(eventually([&] { return where(url, instance) == on + ":running"; }))
        << where(url, instance);

    const auto removed = as_key("DELETE", path);
    ASSERT_EQ(removed.status, 202) << removed.raw;
    EXPECT_EQ(removed.body["job"]["type"], "instance.delete");
    EXPECT_EQ(job_status(removed), "succeeded");
    EXPECT_EQ(as_key("GET", path).status, 404);
    EXPECT_TRUE(as_key("GET", "/instances").body["instances"].empty());
    EXPECT_TRUE(eventually([&] { return where(url, instance).empty(); }))
        << "the domain is still on " << where(url, instance);
    EXPECT_EQ(query_text(url, "SELECT count(*) FROM host_allocations"), "0");

    const auto jobs = as_key("GET", "/jobs?instance=" + instance);
    ASSERT_EQ(jobs.status, 200) << jobs.raw;
    std::string kinds;
    for (const auto& j : jobs.body["jobs"]) kinds += j["type"].get<std::string>() + ",";
    EXPECT_EQ(kinds,
              "instance.delete,instance.rebuild,instance.resize,instance.power,instance.power,"
              "instance.power,instance.create,");
}

TEST(instances_api, orders_are_validated_and_instances_stay_in_their_project) {
    fleet_fixture fleet;  // no host: a valid order fails to find room
    const api_client api(fleet.coordinator().port);
    const auto user = sign_up(api, "validate@example.com");
    const std::string project = first_project(api, user.access_token);
    const std::string base = "/api/v1/projects/" + project;

    const auto bad_name =
        api.post(base + "/instances", instance_order("Web_01"), user.access_token);
    EXPECT_EQ(bad_name.status, 400) << bad_name.raw;
    EXPECT_EQ(bad_name.body["error"]["code"], "invalid_request");
    const auto no_plan =
        api.post(base + "/instances", instance_order("web", "xl-99"), user.access_token);
    EXPECT_EQ(no_plan.status, 404) << no_plan.raw;
    EXPECT_EQ(no_plan.body["error"]["code"], "plan_not_found");
    const auto no_image = api.post(base + "/instances", instance_order("web", "bxs-1", "img_nope"),
                                   user.access_token);
    EXPECT_EQ(no_image.status, 404) << no_image.raw;
    EXPECT_EQ(no_image.body["error"]["code"], "image_not_found");

    const auto created = api.post(base + "/instances", instance_order("web"), user.access_token);
    ASSERT_EQ(created.status, 202) << created.raw;
    const std::string instance = created.body["instance"]["uid"];
    const auto taken = api.post(base + "/instances", instance_order("web"), user.access_token);
    EXPECT_EQ(taken.status, 409) << taken.raw;
    EXPECT_EQ(taken.body["error"]["code"], "name_taken");

    // With no host to put it on, the job fails and the instance says why.
    const auto job = finished_job(api, project, created.body["job"]["uid"], user.access_token);
    EXPECT_EQ(job["status"], "failed") << job.dump();
    EXPECT_EQ(job["error"]["code"], "no_capacity");
    const auto failed = api.get(base + "/instances/" + instance, user.access_token);
    EXPECT_EQ(failed.body["instance"]["status"], "error");
    EXPECT_EQ(failed.body["instance"]["error_code"], "no_capacity");
    EXPECT_EQ(api.post(base + "/instances/" + instance + "/actions", {{"type", "start"}},
                       user.access_token)
                  .status,
              409);
    EXPECT_EQ(api.post(base + "/instances/" + instance + "/actions", {{"type", "hibernate"}},
                       user.access_token)
                  .status,
              400);

    const auto renamed = api.call("PATCH", base + "/instances/" + instance, {{"name", "web-2"}},
                                  api_client::bearer(user.access_token));
    EXPECT_EQ(renamed.status, 200) << renamed.raw;
    EXPECT_EQ(renamed.body["instance"]["name"], "web-2");

    const auto other = api.post("/api/v1/projects", {{"name", "Other"}}, user.access_token);
    ASSERT_EQ(other.status, 201) << other.raw;
    const auto elsewhere = api.get(
        "/api/v1/projects/" + other.body["uid"].get<std::string>() + "/instances/" + instance,
        user.access_token);
    EXPECT_EQ(elsewhere.status, 404);
    EXPECT_EQ(elsewhere.body["error"]["code"], "instance_not_found");

    const auto key = api.post(base + "/api-keys", {{"name", "reader"}, {"permissions", 1}},
                              user.access_token);  // READ_VPS only
    ASSERT_EQ(key.status, 201) << key.raw;
    const std::string secret = key.body["secret"];
    const auto listed = api.get(base + "/instances", secret);
    EXPECT_EQ(listed.status, 200) << listed.raw;
    EXPECT_EQ(listed.body["instances"][0]["uid"], instance);
    EXPECT_EQ(
        api.post(base + "/instances/" + instance + "/actions", {{"type", "reboot"}}, secret).status,
        403);
    EXPECT_EQ(
        api.call("DELETE", base + "/instances/" + instance, nullptr, api_client::bearer(secret))
            .status,
        403);
}
