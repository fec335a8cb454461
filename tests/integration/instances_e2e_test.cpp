// The customer API's instance flow on real parts: a coordinator process and PostgreSQL, and an
// enrolled agent on libvirt's test:/// driver over tests/data/libvirt/host.xml. An instance is
// ordered from the catalog, placed by its job, defined and started on the host, powered off,
// and deleted; the host's own inventory (host_domains) shows each change.
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/fleet_fixture.hpp"
#include "tests/integration/test_helpers.hpp"

#include <gtest/gtest.h>

using namespace vpsfleet::testing;

TEST(instances_e2e, an_instance_is_created_on_a_host_powered_off_and_deleted) {
    fleet_fixture fleet;
    auto agent = fleet.start_catalog_host_agent("hv-a");
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "online"));
    const auto& url = fleet.database_url();
    const std::string host = fleet.give_host_room("hv-a");

    const api_client api(fleet.coordinator().port);
    const auto user = sign_up(api, "owner@example.com");
    const std::string project = first_project(api, user.access_token);
    const std::string base = "/api/v1/projects/" + project;

    const auto plans = api.get("/api/v1/plans", user.access_token);
    ASSERT_EQ(plans.status, 200) << plans.raw;
    EXPECT_EQ(plans.body["plans"][0]["code"], "bxs-1");
    EXPECT_EQ(plans.body["plans"][0]["memoryMb"], 2048);
    const auto images = api.get("/api/v1/images", user.access_token);
    ASSERT_EQ(images.status, 200) << images.raw;
    EXPECT_GE(images.body["images"].size(), 2u);

    const auto created = api.post(base + "/instances", instance_order("web-01"), user.access_token);
    ASSERT_EQ(created.status, 202) << created.raw;
    EXPECT_EQ(created.body["instance"]["status"], "queued");
    EXPECT_EQ(created.body["job"]["type"], "instance.create");
    EXPECT_EQ(created.body["job"]["status"], "queued");
    const std::string instance = created.body["instance"]["uid"];
    const std::string path = base + "/instances/" + instance;

    const auto create_job =
        finished_job(api, project, created.body["job"]["uid"], user.access_token);
    ASSERT_EQ(create_job["status"], "succeeded") << create_job.dump();
    EXPECT_EQ(create_job["instance"], instance);
    EXPECT_FALSE(create_job["finished_at"].is_null());

    const auto running = api.get(path, user.access_token);
    ASSERT_EQ(running.status, 200) << running.raw;
    EXPECT_EQ(running.body["instance"]["status"], "running");
    EXPECT_EQ(running.body["instance"]["power_state"], "running");
    EXPECT_EQ(running.body["instance"]["plan_code"], "bxs-1");
    EXPECT_EQ(running.body["instance"]["image_name"], "Debian 12");
    EXPECT_GE(running.body["instance"]["root_password"].get<std::string>().size(), 8u);
    // The host itself reports the domain running, under the instance's uid.
    const std::string domain_state =
        "SELECT state FROM host_domains WHERE host_id = " + host + " AND name = '" + instance + "'";
    EXPECT_TRUE(eventually([&] { return query_text(url, domain_state) == "running"; }))
        << query_text(url, domain_state);
    EXPECT_EQ(query_text(url, "SELECT count(*) FROM host_allocations WHERE host_id = " + host),
              "1");

    const auto start_running = api.post(path + "/actions", {{"type", "start"}}, user.access_token);
    EXPECT_EQ(start_running.status, 409) << start_running.raw;
    EXPECT_EQ(start_running.body["error"]["code"], "invalid_state");

    const auto stop = api.post(path + "/actions", {{"type", "stop"}}, user.access_token);
    ASSERT_EQ(stop.status, 202) << stop.raw;
    EXPECT_EQ(stop.body["job"]["type"], "instance.power");
    EXPECT_EQ(finished_job(api, project, stop.body["job"]["uid"], user.access_token)["status"],
              "succeeded");
    const auto stopped = api.get(path, user.access_token);
    EXPECT_EQ(stopped.body["instance"]["status"], "stopped");
    EXPECT_EQ(stopped.body["instance"]["power_state"], "stopped");
    EXPECT_TRUE(eventually([&] {
        const auto s = query_text(url, domain_state);
        return !s.empty() && s != "running";
    })) << query_text(url, domain_state);

    const auto removed = api.call("DELETE", path, nullptr, api_client::bearer(user.access_token));
    ASSERT_EQ(removed.status, 202) << removed.raw;
    EXPECT_EQ(removed.body["job"]["type"], "instance.delete");
    EXPECT_EQ(finished_job(api, project, removed.body["job"]["uid"], user.access_token)["status"],
              "succeeded");
    EXPECT_EQ(api.get(path, user.access_token).status, 404);
    EXPECT_TRUE(api.get(base + "/instances", user.access_token).body["instances"].empty());
    EXPECT_TRUE(eventually([&] { return query_text(url, domain_state).empty(); }))
        << "the domain is still on the host";
    EXPECT_EQ(query_text(url, "SELECT count(*) FROM host_allocations"), "0");

    const auto jobs = api.get(base + "/jobs?instance=" + instance, user.access_token);
    ASSERT_EQ(jobs.status, 200) << jobs.raw;
    ASSERT_EQ(jobs.body["jobs"].size(), 3u);
    EXPECT_EQ(jobs.body["jobs"][0]["type"], "instance.delete");
    EXPECT_EQ(jobs.body["jobs"][2]["type"], "instance.create");
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
