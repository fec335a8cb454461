// Addresses of instances ordered through the customer API, on real parts: a coordinator process
// and PostgreSQL, and an enrolled agent on libvirt's test:/// driver. The instance gets an IPv4
// address and a SLAAC IPv6 address from its region's ranges in the job's placement; they show in
// its JSON, travel to the agent as the NIC's static addresses, and the agent keeps them with the
// domain (a reinstall writes them into the guest's cloud-init network-config). A full range fails
// the order without keeping its host reservation; a deleted instance's address cools down.
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/fleet_fixture.hpp"
#include "tests/integration/test_helpers.hpp"

#include <gtest/gtest.h>

using namespace vpsfleet::testing;
using json = nlohmann::json;

namespace {

const std::string k_ssh_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB1e9yPvZt9q8oN0X owner@laptop";

json order(const std::string& name) {
    json body = instance_order(name);
    body["ssh_keys"] = json::array({k_ssh_key});
    return body;
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST(instances_ipam_e2e, an_ordered_instance_gets_addresses_that_reach_its_host) {
    fleet_fixture fleet;
    auto agent = fleet.start_catalog_host_agent("hv-a");
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "online"));
    const auto& url = fleet.database_url();
    const std::string host = fleet.give_host_room("hv-a");
    const std::string region = query_text(url, "SELECT region_id FROM hosts WHERE id = " + host);
    // One usable IPv4 address (.2; .1 is the gateway), and SLAAC for IPv6.
    exec_sql(url,
             "INSERT INTO ip_ranges (cidr, gateway, region_id) VALUES ('192.0.2.0/30', "
             "'192.0.2.1', " +
                 region + ")");
    exec_sql(url,
             "INSERT INTO ip_ranges (cidr, gateway, region_id, allocation_mode) VALUES "
             "('2001:db8:42::/64', '2001:db8:42::1', " +
                 region + ", 'slaac_eui64')");

    const api_client api(fleet.coordinator().port);
    const auto user = sign_up(api, "owner@example.com");
    const auto projects = api.get("/api/v1/projects", user.access_token);
    ASSERT_EQ(projects.status, 200) << projects.raw;
    const std::string project = projects.body[0]["uid"];
    const std::string base = "/api/v1/projects/" + project;

    const auto created = api.post(base + "/instances", order("web-01"), user.access_token);
    ASSERT_EQ(created.status, 202) << created.raw;
    const std::string instance = created.body["instance"]["uid"];
    const auto job = finished_job(api, project, created.body["job"]["uid"], user.access_token);
    ASSERT_EQ(job["status"], "succeeded") << job.dump();

    const auto shown = api.get(base + "/instances/" + instance, user.access_token);
    ASSERT_EQ(shown.status, 200) << shown.raw;
    EXPECT_EQ(shown.body["instance"]["primary_ip"], "192.0.2.2");
    EXPECT_EQ(api.get(base + "/instances", user.access_token).body["instances"][0]["primary_ip"],
              "192.0.2.2");

    const std::string id =
        query_text(url, "SELECT id FROM instances WHERE uid = '" + instance + "'");
    const std::string v6 = query_text(
        url, "SELECT host(ip) FROM vm_ip_assignments WHERE family(ip) = 6 AND instance_id = " + id);
    ASSERT_FALSE(v6.empty());
    EXPECT_TRUE(v6.starts_with("2001:db8:42:0:5054:ff:fe")) << v6 << ": EUI-64 of 52:54:00:..";

    // What the agent was told to define.
    const json nic = json::parse(
        query_text(url,
                   "SELECT args->'nics'->0 FROM commands WHERE kind = 'vm.define' AND state = "
                   "'completed'"));
    EXPECT_EQ(nic["ipv4"], json::parse(R"([{"cidr":"192.0.2.2/30","gateway":"192.0.2.1"}])"))
        << nic.dump();
    EXPECT_EQ(nic["ipv6"], json::array({{{"cidr", v6 + "/64"}, {"gateway", "2001:db8:42::1"}}}))
        << nic.dump();

    // The first boot's seed: the image's user with the ordered key and the shown password as a
    // SHA-512 crypt hash (never the password itself), and the static addresses.
    const std::string uuid =
        query_text(url, "SELECT libvirt_uuid::text FROM instances WHERE id = " + id);
    const std::string seed = fleet.dir() + "/hv-a/seeds/" + uuid + "-seed.iso";
    const auto user_data = run_command({"isoinfo", "-R", "-i", seed, "-x", "/user-data"});
    ASSERT_EQ(user_data.status, 0) << user_data.output;
    EXPECT_TRUE(contains(user_data.output, "name: debian")) << user_data.output;
    EXPECT_TRUE(contains(user_data.output, k_ssh_key)) << user_data.output;
    EXPECT_TRUE(contains(user_data.output, "passwd: $6$")) << user_data.output;
    const std::string password = shown.body["instance"]["root_password"];
    ASSERT_GE(password.size(), 8u);
    EXPECT_FALSE(contains(user_data.output, password)) << "the plain password reached the host";
    const auto first_network = run_command({"isoinfo", "-R", "-i", seed, "-x", "/network-config"});
    EXPECT_TRUE(contains(first_network.output, "192.0.2.2/30")) << first_network.output;

    // What the agent kept with the domain: a reinstall renders the guest's network-config from it.
    const auto reinstalled = fleet.send_command(
        "hv-a", "vm.reinstall",
        R"({"vm":")" + uuid +
            R"(","image":{"pool":"images","volume":"debian-12.qcow2"},"start":false})",
        "20s");
    ASSERT_EQ(reinstalled.status, 0) << reinstalled.output;
    const auto network = run_command({"isoinfo", "-R", "-i", seed, "-x", "/network-config"});
    ASSERT_EQ(network.status, 0) << network.output;
    EXPECT_TRUE(contains(network.output, "192.0.2.2/30")) << network.output;
    EXPECT_TRUE(contains(network.output, v6 + "/64")) << network.output;
    EXPECT_TRUE(contains(network.output, "via: 192.0.2.1")) << network.output;
    EXPECT_TRUE(contains(network.output, "dhcp4: false")) << network.output;

    // The customer sees the instance's addresses and sets reverse DNS on one: an ip.update job.
    const std::string ips = base + "/instances/" + instance + "/ips";
    auto listed = api.get(ips, user.access_token);
    ASSERT_EQ(listed.status, 200) << listed.raw;
    ASSERT_EQ(listed.body["ips"].size(), 2u) << listed.raw;
    EXPECT_EQ(listed.body["ips"][0], json({{"ip", "192.0.2.2"},
                                           {"family", 4},
                                           {"cidr", "192.0.2.0/30"},
                                           {"gateway", "192.0.2.1"},
                                           {"reverse_dns", nullptr},
                                           {"change_pending", false}}));
    EXPECT_EQ(listed.body["ips"][1]["ip"], v6);
    const auto patch = [&](const std::string& ip, const json& body) {
        return api.call("PATCH", ips + "/" + ip, body, api_client::bearer(user.access_token));
    };
    for (const json& bad :
         {json::object(), json{{"reverse_dns", 7}}, json{{"reverse_dns", "-bad-.example.com"}},
          json{{"reverse_dns", std::string(300, 'a') + ".com"}}}) {
        const auto refused = patch("192.0.2.2", bad);
        EXPECT_EQ(refused.status, 400) << bad.dump() << " -> " << refused.raw;
        EXPECT_EQ(refused.body["error"]["details"]["field"], "reverse_dns") << refused.raw;
    }
    EXPECT_EQ(patch("192.0.2.3", {{"reverse_dns", "web.example.com"}}).status, 404);
    EXPECT_EQ(patch("not-an-ip", {{"reverse_dns", "web.example.com"}}).status, 404);
    const auto stranger = sign_up(api, "stranger@example.com");
    EXPECT_EQ(api.call("PATCH", ips + "/192.0.2.2", {{"reverse_dns", "x.example.com"}},
                       api_client::bearer(stranger.access_token))
                  .status,
              404);
    EXPECT_EQ(query_text(url, "SELECT count(*) FROM jobs WHERE kind = 'ip.update'"), "0");
    const auto named = patch("192.0.2.2", {{"reverse_dns", "Web-01.Example.com."}});
    ASSERT_EQ(named.status, 202) << named.raw;
    EXPECT_EQ(named.body["job"]["type"], "ip.update");
    EXPECT_EQ(finished_job(api, project, named.body["job"]["uid"], user.access_token)["status"],
              "succeeded");
    listed = api.get(ips, user.access_token);
    EXPECT_EQ(listed.body["ips"][0]["reverse_dns"], "web-01.example.com") << listed.raw;
    const auto cleared = patch("192.0.2.2", {{"reverse_dns", nullptr}});
    ASSERT_EQ(cleared.status, 202) << cleared.raw;
    EXPECT_EQ(finished_job(api, project, cleared.body["job"]["uid"], user.access_token)["status"],
              "succeeded");
    EXPECT_EQ(api.get(ips, user.access_token).body["ips"][0]["reverse_dns"], nullptr);

    // The region counts the instance's two live addresses.
    const auto operator_account = sign_up(api, "ops@example.com");
    grant_role(url, operator_account.email, "admin");
    const auto region_shown = api.call("GET", "/api/admin/v1/regions/" + region, nullptr,
                                       api_client::bearer(operator_account.access_token));
    ASSERT_EQ(region_shown.status, 200) << region_shown.raw;
    EXPECT_EQ(region_shown.body["data"]["total_ip_assignments"], 2) << region_shown.raw;

    // The range is full: the next order fails and gives its host reservation back.
    const auto second = api.post(base + "/instances", order("web-02"), user.access_token);
    ASSERT_EQ(second.status, 202) << second.raw;
    const auto failed = finished_job(api, project, second.body["job"]["uid"], user.access_token);
    EXPECT_EQ(failed["status"], "failed") << failed.dump();
    EXPECT_EQ(failed["error"]["code"], "no_ip_available") << failed.dump();
    const auto broken =
        api.get(base + "/instances/" + second.body["instance"]["uid"].get<std::string>(),
                user.access_token);
    EXPECT_EQ(broken.body["instance"]["status"], "error");
    EXPECT_EQ(broken.body["instance"]["error_code"], "no_ip_available");
    EXPECT_EQ(broken.body["instance"]["primary_ip"], nullptr);
    EXPECT_EQ(query_text(url, "SELECT count(*) FROM host_allocations"), "1");

    // Deleting the instance releases its addresses, which then cool down (an hour by default).
    const auto removed = api.call("DELETE", base + "/instances/" + instance, nullptr,
                                  api_client::bearer(user.access_token));
    ASSERT_EQ(removed.status, 202) << removed.raw;
    EXPECT_EQ(finished_job(api, project, removed.body["job"]["uid"], user.access_token)["status"],
              "succeeded");
    EXPECT_EQ(query_text(url, "SELECT count(*) FROM vm_ip_assignments WHERE deleted_at IS NULL"),
              "0");
    const auto third = api.post(base + "/instances", order("web-03"), user.access_token);
    ASSERT_EQ(third.status, 202) << third.raw;
    const auto cooling = finished_job(api, project, third.body["job"]["uid"], user.access_token);
    EXPECT_EQ(cooling["status"], "failed") << cooling.dump();
    EXPECT_EQ(cooling["error"]["code"], "no_ip_available") << "192.0.2.2 is cooling down";
}
