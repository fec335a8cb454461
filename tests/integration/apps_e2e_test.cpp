// An instance ordered from a one-click app, on real parts: a coordinator process and PostgreSQL,
// and an enrolled agent on libvirt's test:/// driver. The app's install script travels with the
// vm.define command and lands in the first boot's cloud-init seed as a second user-data part,
// after the image user's cloud-config.
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/fleet_fixture.hpp"
#include "tests/integration/test_helpers.hpp"

#include <gtest/gtest.h>

using namespace vpsfleet::testing;
using json = nlohmann::json;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST(apps_e2e, an_app_instance_boots_with_the_apps_install_script) {
    fleet_fixture fleet;
    auto agent = fleet.start_catalog_host_agent("hv-a");
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "online"));
    const auto& url = fleet.database_url();
    fleet.give_host_room("hv-a");

    const api_client api(fleet.coordinator().port);
    const auto user = sign_up(api, "apps-e2e@example.com");
    const std::string project = first_project(api, user.access_token);
    const std::string base = "/api/v1/projects/" + project + "/instances";
    const std::string key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB1e9yPvZt9q8oN0X dev@laptop";
    const json order = {{"name", "git-01"},
                        {"plan", "bxs-1"},
                        {"source", {{"app", "gitea"}}},
                        {"ssh_keys", json::array({key})}};

    const auto created = api.post(base, order, user.access_token);
    ASSERT_EQ(created.status, 202) << created.raw;
    const std::string instance = created.body["instance"]["uid"];
    const auto job = finished_job(api, project, created.body["job"]["uid"], user.access_token);
    ASSERT_EQ(job["status"], "succeeded") << job.dump();
    const auto shown = api.get(base + "/" + instance, user.access_token);
    ASSERT_EQ(shown.status, 200) << shown.raw;
    EXPECT_EQ(shown.body["instance"]["status"], "running");
    EXPECT_EQ(shown.body["instance"]["app_slug"], "gitea");
    EXPECT_EQ(shown.body["instance"]["app_name"], "Gitea");
    EXPECT_EQ(shown.body["instance"]["image_name"], "Debian 12");

    // The agent was told to clone the app's image and given the app's script as user-data.
    const std::string script =
        query_text(url, "SELECT user_data FROM apps WHERE uid = 'app_gitea'");
    ASSERT_TRUE(script.starts_with("#!/bin/bash")) << script;
    const json define = json::parse(query_text(
        url, "SELECT args::text FROM commands WHERE kind = 'vm.define' AND state = 'completed'"));
    EXPECT_EQ(define["disks"][0]["image"]["volume"], "debian-12.qcow2") << define.dump();
    EXPECT_EQ(define["cloud_init"]["user_data"], script);
    EXPECT_EQ(define["cloud_init"]["users"][0]["name"], "debian");

    // The seed: the user's cloud-config first, then the script as a shell-script part.
    const std::string uuid =
        query_text(url, "SELECT libvirt_uuid::text FROM instances WHERE uid = '" + instance + "'");
    const std::string seed = fleet.dir() + "/hv-a/seeds/" + uuid + "-seed.iso";
    const auto user_data = run_command({"isoinfo", "-R", "-i", seed, "-x", "/user-data"});
    ASSERT_EQ(user_data.status, 0) << user_data.output;
    const std::string& text = user_data.output;
    EXPECT_TRUE(contains(text, "Content-Type: multipart/mixed")) << text;
    EXPECT_TRUE(contains(text, key)) << text;
    const auto config_part = text.find("Content-Type: text/cloud-config");
    const auto script_part = text.find("Content-Type: text/x-shellscript");
    ASSERT_NE(config_part, std::string::npos) << text;
    ASSERT_NE(script_part, std::string::npos) << text;
    EXPECT_LT(config_part, script_part);
    EXPECT_TRUE(contains(text.substr(script_part), script)) << text;
    EXPECT_TRUE(contains(text, "systemctl enable --now gitea")) << text;
}
