// The customer API's instance life cycle on a Proxmox VE host: a coordinator process and
// PostgreSQL, and an agent with `driver: proxmox` against the fake PVE node over HTTPS. The host
// is listed online like any other; an instance is ordered, placed, cloned from the node's
// template and started; rebooted, stopped, started and deleted. Each step is checked on what the
// node itself serves through its own API (GET /api2/json/nodes/{node}/qemu).
#include "tests/fakes/fake_proxmox.hpp"
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/fleet_fixture.hpp"
#include "tests/integration/test_helpers.hpp"
#include "tests/support/child_process.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cctype>

#include <fstream>

using namespace vpsfleet::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

// GET on the node's own API (the fake speaks PVE's), as the PVE token.
run_result pve_get(const fake_proxmox& pve, const std::string& ca, const std::string& path) {
    return run_command({"curl", "-sS", "--fail", "--cacert", ca, "-H",
                        "Authorization: PVEAPIToken=" + pve.token_id() + "=" + pve.token_secret(),
                        pve.url() + "/api2/json/nodes/" + pve.node() + path});
}

// The node's QEMU guests as the PVE API lists them, templates left out.
json node_guests(const fake_proxmox& pve, const std::string& ca) {
    const auto r = pve_get(pve, ca, "/qemu");
    EXPECT_EQ(r.status, 0) << r.output;
    json guests = json::array();
    const auto body = json::parse(r.output, nullptr, false);
    if (!body.is_object() || !body.contains("data")) return guests;
    for (const auto& g : body["data"]) {
        if (g.value("template", 0) != 1) guests.push_back(g);
    }
    return guests;
}

// The name PVE gives the instance's VM: a DNS name, so the uid's '_' (and any other character
// PVE refuses) becomes '-', with none at either end.
std::string pve_name_of(const std::string& uid) {
    std::string out;
    for (const char c : uid)
        out += std::isalnum(static_cast<unsigned char>(c)) || c == '.' ? c : '-';
    while (!out.empty() && (out.front() == '-' || out.front() == '.')) out.erase(out.begin());
    while (!out.empty() && (out.back() == '-' || out.back() == '.')) out.pop_back();
    return out;
}

// The status ("running", "stopped") of the node's guest with this name; "" if there is none.
std::string guest_status(const fake_proxmox& pve, const std::string& ca, const std::string& name) {
    for (const auto& g : node_guests(pve, ca)) {
        if (g.value("name", "") == name) return g.value("status", "");
    }
    return "";
}

TEST(proxmox_customer_e2e, an_instance_lives_its_whole_life_on_a_proxmox_node) {
    fake_proxmox_options options;
    options.task_duration = 20ms;
    fake_proxmox pve(options);
    // Templates are found by name: the catalog image's source volume.
    pve.add_template(9000, "debian-12.qcow2", 2);
    fleet_fixture fleet;
    const auto& url = fleet.database_url();

    const std::string ca = fleet.dir() + "/pve-ca.pem";
    std::ofstream(ca) << pve.ca_pem();
    const std::string config = fleet.dir() + "/pve-a.yaml";
    std::ofstream(config) << "host:\n  name: pve-a\nhypervisor:\n  driver: proxmox\n  proxmox:\n"
                          << "    url: " << pve.url() << "\n    node: " << pve.node()
                          << "\n    token_id: \"" << pve.token_id()
                          << "\"\n    token_secret: " << pve.token_secret()
                          << "\n    ca_file: " << ca
                          << "\nmetrics:\n  listen: 127.0.0.1:0\ncollector:\n  interval: 200ms\n"
                          << "link:\n  state_dir: " << fleet.dir() << "/pve-a\n"
                          << "  reconnect_cap: 300ms\n";
    const auto enrolled = run_command({agent_bin(), "enroll", "--config", config, "--coordinator",
                                       "https://127.0.0.1:" + std::to_string(fleet.fleet_port()),
                                       "--token", fleet.create_token()});
    ASSERT_EQ(enrolled.status, 0) << enrolled.output;
    auto agent = launch_daemon(agent_bin(), config);
    ASSERT_TRUE(fleet.wait_for_state("pve-a", "online")) << agent.process->collected_stderr();
    const std::string host = fleet.give_host_room("pve-a");

    // 1. The admin API lists it online, like a libvirt host.
    const api_client api(fleet.coordinator().port);
    const auto admin = sign_up(api, "ops@example.com");
    grant_role(url, admin.email, "admin");
    const auto hosts = api.get("/api/admin/v1/hosts", admin.access_token);
    ASSERT_EQ(hosts.status, 200) << hosts.raw;
    ASSERT_EQ(hosts.body["data"].size(), 1u) << hosts.raw;
    EXPECT_EQ(hosts.body["data"][0]["name"], "pve-a");
    EXPECT_EQ(hosts.body["data"][0]["state"], "online");

    // 2. A customer orders an instance; the node now runs a clone named after it.
    const auto user = sign_up(api, "owner@example.com");
    const std::string project = first_project(api, user.access_token);
    const std::string base = "/api/v1/projects/" + project;
    const auto created = api.post(base + "/instances", instance_order("web-01"), user.access_token);
    ASSERT_EQ(created.status, 202) << created.raw;
    EXPECT_EQ(created.body["job"]["type"], "instance.create");
    const std::string instance = created.body["instance"]["uid"];
    const std::string vm_name = pve_name_of(instance);
    const std::string path = base + "/instances/" + instance;
    const auto create_job =
        finished_job(api, project, created.body["job"]["uid"], user.access_token);
    ASSERT_EQ(create_job["status"], "succeeded")
        << create_job.dump() << agent.process->collected_stderr();
    const auto running = api.get(path, user.access_token);
    EXPECT_EQ(running.body["instance"]["status"], "running") << running.raw;
    EXPECT_EQ(running.body["instance"]["power_state"], "running");
    ASSERT_EQ(node_guests(pve, ca).size(), 1u) << node_guests(pve, ca).dump();
    EXPECT_EQ(guest_status(pve, ca, vm_name), "running") << node_guests(pve, ca).dump();
    // On the node's default bridge, with the instance's MAC.
    const auto vm_config = json::parse(
        pve_get(pve, ca, "/qemu/" + node_guests(pve, ca)[0]["vmid"].dump() + "/config").output,
        nullptr, false);
    const std::string net0 = vm_config.is_object() ? vm_config["data"].value("net0", "") : "";
    EXPECT_NE(net0.find("bridge=vmbr0"), std::string::npos) << net0;
    const std::string mac =
        query_text(url, "SELECT upper(mac) FROM instances WHERE uid = '" + instance + "'");
    EXPECT_NE(net0.find(mac), std::string::npos) << net0 << " vs " << mac;
    const std::string domain_state =
        "SELECT state FROM host_domains WHERE host_id = " + host + " AND name = '" + vm_name + "'";
    EXPECT_TRUE(eventually([&] { return query_text(url, domain_state) == "running"; }))
        << query_text(url, domain_state);

    // 3. Reboot, stop, start: each job succeeds and the node's guest follows.
    const auto power = [&](const std::string& type) {
        const auto r = api.post(path + "/actions", {{"type", type}}, user.access_token);
        EXPECT_EQ(r.status, 202) << type << ": " << r.raw;
        if (r.status != 202) return json();
        return finished_job(api, project, r.body["job"]["uid"], user.access_token);
    };
    const std::size_t power_calls = pve.calls().power;
    const auto reboot = power("reboot");
    EXPECT_EQ(reboot["status"], "succeeded") << reboot.dump();
    EXPECT_GT(pve.calls().power, power_calls) << "the reboot never reached the node";
    EXPECT_EQ(guest_status(pve, ca, vm_name), "running");

    const auto stop = power("stop");
    EXPECT_EQ(stop["status"], "succeeded") << stop.dump();
    EXPECT_EQ(guest_status(pve, ca, vm_name), "stopped");
    EXPECT_EQ(api.get(path, user.access_token).body["instance"]["power_state"], "stopped");

    const auto start = power("start");
    EXPECT_EQ(start["status"], "succeeded") << start.dump();
    EXPECT_EQ(guest_status(pve, ca, vm_name), "running");
    EXPECT_EQ(api.get(path, user.access_token).body["instance"]["power_state"], "running");

    // 4. An SSH key is added to the running guest at once (PVE: its cloud-init sshkeys), once.
    const std::string key =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEbM09REu0z0cYGLe9UEPRr9uTBmZtNfhQ0qv7dy250N "
        "me@laptop";
    const auto added = api.post(path + "/ssh-key", {{"publicKey", key}}, user.access_token);
    ASSERT_EQ(added.status, 200) << added.raw;
    EXPECT_EQ(added.body["added"], true);
    EXPECT_EQ(added.body["alreadyPresent"], false);
    EXPECT_EQ(added.body["user"], "debian");
    const auto keyed = json::parse(
        pve_get(pve, ca, "/qemu/" + node_guests(pve, ca)[0]["vmid"].dump() + "/config").output,
        nullptr, false);
    const std::string sshkeys = keyed.is_object() ? keyed["data"].value("sshkeys", "") : "";
    EXPECT_NE(sshkeys.find("AAAAC3NzaC1lZDI1NTE5AAAAIEbM09REu0z0cYGLe9UEPRr9uTBmZtNfhQ0qv7dy250N"),
              std::string::npos)
        << sshkeys;
    const auto again = api.post(path + "/ssh-key", {{"publicKey", key}}, user.access_token);
    ASSERT_EQ(again.status, 200) << again.raw;
    EXPECT_EQ(again.body["added"], false);
    EXPECT_EQ(again.body["alreadyPresent"], true);
    EXPECT_EQ(query_text(url,
                         "SELECT jsonb_array_length(ssh_keys_snapshot) FROM instances "
                         "WHERE uid = '" +
                             instance + "'"),
              "1");

    // 5. Deleted: the job succeeds and the guest is gone from the node; the template stays.
    const auto removed = api.call("DELETE", path, nullptr, api_client::bearer(user.access_token));
    ASSERT_EQ(removed.status, 202) << removed.raw;
    EXPECT_EQ(removed.body["job"]["type"], "instance.delete");
    EXPECT_EQ(finished_job(api, project, removed.body["job"]["uid"], user.access_token)["status"],
              "succeeded");
    EXPECT_EQ(api.get(path, user.access_token).status, 404);
    EXPECT_TRUE(node_guests(pve, ca).empty()) << node_guests(pve, ca).dump();
    EXPECT_TRUE(pve.config(9000).has_value());
    EXPECT_EQ(query_text(url, "SELECT count(*) FROM host_allocations"), "0");
    EXPECT_EQ(agent.terminate(5s), 0);
}

}  // namespace
