// The customer API's instance flow on real parts: a coordinator process and PostgreSQL, and an
// enrolled agent on libvirt's test:/// driver over tests/data/libvirt/host.xml. An instance is
// ordered from the catalog, placed by its job, defined and started on the host, powered off,
// and deleted; the host's own inventory (host_domains) shows each change.
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/fleet_fixture.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <fstream>
#include <thread>

using namespace vpsfleet::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

std::string query_text(const std::string& url, const std::string& sql) {
    pqxx::connection conn(url);
    const auto rows = pqxx::read_transaction(conn).exec(sql);
    return rows.empty() || rows[0][0].is_null() ? "" : rows[0][0].as<std::string>();
}

void exec(const std::string& url, const std::string& sql) {
    pqxx::connection conn(url);
    pqxx::work tx(conn);
    tx.exec(sql);
    tx.commit();
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 20s) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
        if (pred()) return true;
        std::this_thread::sleep_for(50ms);
    }
    return pred();
}

// Polls the customer job view until the job has finished; returns its last view.
json finished_job(const api_client& api, const std::string& project, const std::string& job,
                  const std::string& token) {
    json last;
    eventually([&] {
        const auto r = api.get("/api/v1/projects/" + project + "/jobs/" + job, token);
        if (r.status != 200) return false;
        last = r.body["job"];
        const auto status = last["status"].get<std::string>();
        return status == "succeeded" || status == "failed" || status == "cancelled";
    });
    return last;
}

std::string first_project(const api_client& api, const std::string& token) {
    const auto r = api.get("/api/v1/projects", token);
    EXPECT_EQ(r.status, 200) << r.raw;
    return r.body[0]["uid"];
}

json order(const std::string& name, const std::string& plan = "bxs-1",
           const std::string& image = "img_debian12") {
    return {{"name", name}, {"plan", plan}, {"source", {{"image", image}}}};
}

// An agent enrolled on the fixture's coordinator, on a libvirt test host that has the storage
// pools and images the catalog names ("vms", "images").
running_daemon start_test_host_agent(fleet_fixture& fleet, const std::string& name) {
    const std::string config = fleet.dir() + "/" + name + "-libvirt.yaml";
    std::ofstream(config) << "host:\n  name: " << name << "\nhypervisor:\n  libvirt_uri: test://"
                          << VPSFLEET_SOURCE_DIR << "/tests/data/libvirt/host.xml\n"
                          << "metrics:\n  listen: 127.0.0.1:0\ncollector:\n  interval: 100ms\n"
                          << "link:\n  state_dir: " << fleet.dir() << "/" << name
                          << "\n  reconnect_cap: 300ms\n";
    const auto enrolled = run_command({agent_bin(), "enroll", "--config", config, "--coordinator",
                                       "https://127.0.0.1:" + std::to_string(fleet.fleet_port()),
                                       "--token", fleet.create_token()});
    EXPECT_EQ(enrolled.status, 0) << enrolled.output;
    return launch_daemon(agent_bin(), config);
}

}  // namespace

TEST(instances_e2e, an_instance_is_created_on_a_host_powered_off_and_deleted) {
    fleet_fixture fleet;
    auto agent = start_test_host_agent(fleet, "hv-a");
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "online"));
    const auto& url = fleet.database_url();
    const std::string host = query_text(url, "SELECT id FROM hosts WHERE name = 'hv-a'");
    exec(url, "UPDATE hosts SET cpu = 8, memory = 17179869184 WHERE id = " + host);
    exec(url, "INSERT INTO host_disks (host_id, name, size, kind, interface) VALUES (" + host +
                  ", 'vms', 107374182400, 'ssd', 'pcie')");

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

    const auto created = api.post(base + "/instances", order("web-01"), user.access_token);
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

    const auto bad_name = api.post(base + "/instances", order("Web_01"), user.access_token);
    EXPECT_EQ(bad_name.status, 400) << bad_name.raw;
    EXPECT_EQ(bad_name.body["error"]["code"], "invalid_request");
    const auto no_plan = api.post(base + "/instances", order("web", "xl-99"), user.access_token);
    EXPECT_EQ(no_plan.status, 404) << no_plan.raw;
    EXPECT_EQ(no_plan.body["error"]["code"], "plan_not_found");
    const auto no_image =
        api.post(base + "/instances", order("web", "bxs-1", "img_nope"), user.access_token);
    EXPECT_EQ(no_image.status, 404) << no_image.raw;
    EXPECT_EQ(no_image.body["error"]["code"], "image_not_found");

    const auto created = api.post(base + "/instances", order("web"), user.access_token);
    ASSERT_EQ(created.status, 202) << created.raw;
    const std::string instance = created.body["instance"]["uid"];
    const auto taken = api.post(base + "/instances", order("web"), user.access_token);
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
