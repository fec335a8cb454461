// The customer API's instance firewall on real parts: a coordinator process on PostgreSQL and,
// for the host side, an enrolled agent on libvirt's test:/// driver. Rules are created, checked,
// reordered and deleted with positions kept dense; every change (and only a change) commits with
// an audit entry and a firewall.sync job; the job pushes the whole rule set with the VM's MAC and
// addresses to the host, where test:/// (no network filter driver) refuses rules in so many words
// and accepts having none.
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/fleet_fixture.hpp"
#include "tests/integration/test_helpers.hpp"

#include <gtest/gtest.h>

using namespace vpsfleet::testing;
using json = nlohmann::json;

namespace {

api_reply patch(const api_client& api, const std::string& path, const json& body,
                const std::string& token) {
    return api.call("PATCH", path, body, api_client::bearer(token));
}

api_reply remove(const api_client& api, const std::string& path, const std::string& token) {
    return api.call("DELETE", path, nullptr, api_client::bearer(token));
}

// The rules' uids in the order GET lists them, checking positions are 1..n.
std::vector<std::string> listed(const api_client& api, const std::string& path,
                                const std::string& token) {
    const auto r = api.get(path, token);
    EXPECT_EQ(r.status, 200) << r.raw;
    std::vector<std::string> out;
    for (std::size_t i = 0; i < r.body.size(); ++i) {
        EXPECT_EQ(r.body[i]["position"], i + 1) << r.raw;
        out.push_back(r.body[i]["uid"]);
    }
    return out;
}

// The newest firewall.sync job of an instance, once every one of them has finished.
std::string last_sync_job(const std::string& url, const std::string& instance) {
    const std::string open =
        "SELECT count(*) FROM jobs WHERE kind = 'firewall.sync' AND target = '" + instance +
        "' AND state IN ('pending', 'running')";
    EXPECT_TRUE(eventually([&] { return query_text(url, open) == "0"; }));
    return query_text(url, "SELECT uid FROM jobs WHERE kind = 'firewall.sync' AND target = '" +
                               instance + "' ORDER BY id DESC LIMIT 1");
}

std::string sync_jobs(const std::string& url, const std::string& instance) {
    return query_text(url, "SELECT count(*) FROM jobs WHERE kind = 'firewall.sync' AND target = '" +
                               instance + "'");
}

}  // namespace

TEST(firewall_api, rules_are_validated_ordered_and_every_change_is_synced) {
    fleet_fixture fleet;  // no host: the instance is never placed, so syncs have nothing to do
    const auto& url = fleet.database_url();
    const api_client api(fleet.coordinator().port);
    const auto user = sign_up(api, "fw@example.com");
    const std::string token = user.access_token;
    const std::string project = first_project(api, token);
    const auto created =
        api.post("/api/v1/projects/" + project + "/instances", instance_order("fw-01"), token);
    ASSERT_EQ(created.status, 202) << created.raw;
    const std::string instance = created.body["instance"]["uid"];
    const std::string path = "/api/v1/projects/" + project + "/instances/" + instance + "/firewall";
    EXPECT_TRUE(api.get(path, token).body.empty());

    // Each refused body names its field and changes nothing.
    const std::vector<std::pair<json, std::string>> refused = {
        {json::object(), "direction"},
        {{{"direction", "in"}}, "action"},
        {{{"direction", "sideways"}, {"action", "ACCEPT"}}, "direction"},
        {{{"direction", "in"}, {"action", "ALLOW"}}, "action"},
        {{{"direction", "in"}, {"action", "ACCEPT"}, {"source", "office"}}, "source"},
        {{{"direction", "in"}, {"action", "ACCEPT"}, {"source", 5}}, "source"},
        {{{"direction", "in"}, {"action", "ACCEPT"}, {"dport", "22"}}, "dport"},
        {{{"direction", "in"}, {"action", "ACCEPT"}, {"proto", "tcp"}, {"dport", "70000"}},
         "dport"},
        {{{"direction", "in"}, {"action", "ACCEPT"}, {"proto", "tcp"}, {"dport", "90:80"}},
         "dport"},
        {{{"direction", "in"}, {"action", "ACCEPT"}, {"proto", "gre"}}, "proto"},
        {{{"direction", "in"}, {"action", "ACCEPT"}, {"proto", "icmp"}, {"dest", "2001:db8::1"}},
         "proto"},
        {{{"direction", "in"},
          {"action", "ACCEPT"},
          {"source", "192.0.2.0/24"},
          {"dest", "2001:db8::/64"}},
         "dest"},
        {{{"direction", "in"}, {"action", "ACCEPT"}, {"comment", std::string(256, 'x')}},
         "comment"},
        {{{"direction", "in"}, {"action", "ACCEPT"}, {"enabled", "yes"}}, "enabled"},
    };
    for (const auto& [body, field] : refused) {
        const auto r = api.post(path, body, token);
        EXPECT_EQ(r.status, 400) << body.dump() << " -> " << r.raw;
        EXPECT_EQ(r.body["error"]["code"], "invalid_request") << r.raw;
        EXPECT_EQ(r.body["error"]["details"]["field"], field) << body.dump() << " -> " << r.raw;
        EXPECT_FALSE(r.body["error"]["message"].get<std::string>().empty());
    }
    EXPECT_TRUE(api.get(path, token).body.empty());
    EXPECT_EQ(sync_jobs(url, instance), "0");

    // The document's example, echoed field for field at the next position.
    const json ssh = {{"direction", "in"}, {"action", "ACCEPT"},
                      {"proto", "tcp"},    {"source", "203.0.113.0/24"},
                      {"dport", "22"},     {"comment", "SSH from office"},
                      {"enabled", true}};
    const auto r1 = api.post(path, ssh, token);
    ASSERT_EQ(r1.status, 201) << r1.raw;
    json expected = ssh;
    expected["uid"] = r1.body["uid"];
    expected["position"] = 1;
    EXPECT_EQ(r1.body, expected);
    EXPECT_TRUE(r1.body["uid"].get<std::string>().starts_with("fwr_"));
    const auto r2 = api.post(
        path, {{"direction", "in"}, {"action", "accept"}, {"proto", "TCP"}, {"dport", "80,443"}},
        token);
    ASSERT_EQ(r2.status, 201) << r2.raw;
    EXPECT_EQ(r2.body["position"], 2);
    EXPECT_EQ(r2.body["action"], "ACCEPT");
    EXPECT_EQ(r2.body["proto"], "tcp");
    const auto r3 = api.post(path, {{"direction", "in"}, {"action", "DROP"}}, token);
    ASSERT_EQ(r3.status, 201) << r3.raw;
    EXPECT_EQ(r3.body, (json{{"uid", r3.body["uid"]},
                             {"position", 3},
                             {"direction", "in"},
                             {"action", "DROP"},
                             {"enabled", true}}));
    const std::string a = r1.body["uid"], b = r2.body["uid"], c = r3.body["uid"];
    EXPECT_EQ(listed(api, path, token), (std::vector<std::string>{a, b, c}));

    // Reordering shifts the others; past the end means last.
    auto moved = patch(api, path + "/" + c, {{"position", 1}}, token);
    ASSERT_EQ(moved.status, 200) << moved.raw;
    EXPECT_EQ(moved.body["position"], 1);
    EXPECT_EQ(listed(api, path, token), (std::vector<std::string>{c, a, b}));
    moved = patch(api, path + "/" + a, {{"position", 99}}, token);
    ASSERT_EQ(moved.status, 200) << moved.raw;
    EXPECT_EQ(moved.body["position"], 3);
    EXPECT_EQ(listed(api, path, token), (std::vector<std::string>{c, b, a}));

    // A patch is checked as a whole rule: ports without a protocol are refused, nothing changes.
    const auto half = patch(api, path + "/" + b, {{"proto", ""}}, token);
    EXPECT_EQ(half.status, 400) << half.raw;
    EXPECT_EQ(half.body["error"]["details"]["field"], "dport");
    EXPECT_EQ(api.get(path, token).body[1]["proto"], "tcp");
    for (const auto& [body, field] :
         std::vector<std::pair<json, std::string>>{{{{"position", 0}}, "position"},
                                                   {{{"position", "2"}}, "position"},
                                                   {{{"action", "ALLOW"}}, "action"}}) {
        const auto r = patch(api, path + "/" + b, body, token);
        EXPECT_EQ(r.status, 400) << r.raw;
        EXPECT_EQ(r.body["error"]["details"]["field"], field) << r.raw;
    }
    const auto cleared = patch(api, path + "/" + b, {{"proto", ""}, {"dport", ""}}, token);
    ASSERT_EQ(cleared.status, 200) << cleared.raw;
    EXPECT_FALSE(cleared.body.contains("proto")) << cleared.raw;
    EXPECT_FALSE(cleared.body.contains("dport")) << cleared.raw;
    EXPECT_EQ(cleared.body["position"], 2);

    // Six changes so far, six jobs; a patch that changes nothing enqueues none.
    EXPECT_EQ(sync_jobs(url, instance), "6");
    const auto same = patch(api, path + "/" + c, {{"enabled", true}, {"position", 1}}, token);
    EXPECT_EQ(same.status, 200) << same.raw;
    EXPECT_EQ(sync_jobs(url, instance), "6");

    EXPECT_EQ(patch(api, path + "/fwr_nope", {{"enabled", false}}, token).status, 404);
    const auto gone = remove(api, path + "/" + b, token);
    EXPECT_EQ(gone.status, 204) << gone.raw;
    EXPECT_EQ(listed(api, path, token), (std::vector<std::string>{c, a}));
    EXPECT_EQ(remove(api, path + "/" + b, token).status, 404);
    EXPECT_EQ(sync_jobs(url, instance), "7");
    EXPECT_EQ(query_text(url, "SELECT count(*) FROM audit_log WHERE action LIKE 'firewall.rule.%'"),
              "7");

    // The instance was never placed: each sync completes with nothing to do, saying so.
    const std::string job = last_sync_job(url, instance);
    const auto finished = finished_job(api, project, job, token);
    EXPECT_EQ(finished["status"], "succeeded") << finished.dump();
    EXPECT_EQ(finished["type"], "firewall.sync");
    EXPECT_EQ(finished["instance"], instance);
    EXPECT_TRUE(query_text(url, "SELECT result->>'skipped' FROM jobs WHERE uid = '" + job + "'")
                    .starts_with("the instance is not on a host yet"));

    // Reading takes READ_VPS; changing takes VPS_CONTROL; other projects see nothing.
    const auto key = api.post("/api/v1/projects/" + project + "/api-keys",
                              {{"name", "reader"}, {"permissions", 1}}, token);
    ASSERT_EQ(key.status, 201) << key.raw;
    const std::string reader = key.body["secret"];
    EXPECT_EQ(api.get(path, reader).body.size(), 2u);
    EXPECT_EQ(api.post(path, {{"direction", "in"}, {"action", "DROP"}}, reader).status, 403);
    EXPECT_EQ(patch(api, path + "/" + a, {{"enabled", false}}, reader).status, 403);
    EXPECT_EQ(remove(api, path + "/" + a, reader).status, 403);
    const auto other = api.post("/api/v1/projects", {{"name", "Other"}}, token);
    ASSERT_EQ(other.status, 201) << other.raw;
    const auto elsewhere = api.get("/api/v1/projects/" + other.body["uid"].get<std::string>() +
                                       "/instances/" + instance + "/firewall",
                                   token);
    EXPECT_EQ(elsewhere.status, 404);
    EXPECT_EQ(elsewhere.body["error"]["code"], "instance_not_found");
}

TEST(firewall_e2e, the_sync_job_takes_the_rules_and_addresses_to_the_host) {
    fleet_fixture fleet;
    auto agent = fleet.start_catalog_host_agent("hv-a");
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "online"));
    const auto& url = fleet.database_url();
    const std::string host = fleet.give_host_room("hv-a");

    const api_client api(fleet.coordinator().port);
    const auto user = sign_up(api, "fw-e2e@example.com");
    const std::string token = user.access_token;
    const std::string project = first_project(api, token);
    const auto created =
        api.post("/api/v1/projects/" + project + "/instances", instance_order("fw-e2e"), token);
    ASSERT_EQ(created.status, 202) << created.raw;
    const std::string instance = created.body["instance"]["uid"];
    const auto create_job = finished_job(api, project, created.body["job"]["uid"], token);
    ASSERT_EQ(create_job["status"], "succeeded") << create_job.dump();
    const std::string id =
        query_text(url, "SELECT id FROM instances WHERE uid = '" + instance + "'");
    const std::string mac = query_text(url, "SELECT mac FROM instances WHERE id = " + id);

    // Addresses the instance holds, as IP address management records them.
    exec_sql(
        url,
        "WITH r4 AS (INSERT INTO ip_ranges (cidr, gateway, region_id) SELECT "
        "'198.51.100.0/24'::cidr, '198.51.100.1'::inet, region_id FROM hosts WHERE id = " +
            host +
            " RETURNING id), r6 AS (INSERT INTO ip_ranges (cidr, gateway, region_id) SELECT "
            "'2001:db8:5::/64'::cidr, '2001:db8:5::1'::inet, region_id FROM hosts WHERE id = " +
            host +
            " RETURNING id) INSERT INTO vm_ip_assignments (instance_id, ip_range_id, ip) SELECT " +
            id + ", r4.id, '198.51.100.10'::inet FROM r4 UNION ALL SELECT " + id +
            ", r6.id, '2001:db8:5::10'::inet FROM r6");

    const std::string path = "/api/v1/projects/" + project + "/instances/" + instance + "/firewall";
    const auto rule = api.post(
        path, {{"direction", "in"}, {"action", "ACCEPT"}, {"proto", "tcp"}, {"dport", "22"}},
        token);
    ASSERT_EQ(rule.status, 201) << rule.raw;
    const std::string rule_uid = rule.body["uid"];

    // test:/// has no network filter driver: the job fails with the host's own words.
    auto job = finished_job(api, project, last_sync_job(url, instance), token);
    EXPECT_EQ(job["status"], "failed") << job.dump();
    EXPECT_EQ(job["error"]["code"], "unsupported") << job.dump();
    const std::string message = job["error"]["message"];
    EXPECT_NE(message.find("virNWFilterDefineXML"), std::string::npos) << message;
    EXPECT_NE(message.find("no network filter driver"), std::string::npos) << message;

    // What went to the host: the VM, its MAC and addresses, and the rule in the agent's terms.
    const json args = json::parse(
        query_text(url,
                   "SELECT args FROM commands WHERE kind = 'vm.firewall' ORDER BY created_at DESC "
                   "LIMIT 1"));
    EXPECT_EQ(args["vm"], query_text(url, "SELECT libvirt_uuid FROM instances WHERE id = " + id));
    EXPECT_EQ(args["mac"], mac);
    EXPECT_EQ(args["ipv4"], json::array({"198.51.100.10"}));
    EXPECT_EQ(args["ipv6"], json::array({"2001:db8:5::10"}));
    ASSERT_EQ(args["rules"].size(), 1u) << args.dump();
    EXPECT_EQ(args["rules"][0], (json{{"direction", "in"},
                                      {"action", "accept"},
                                      {"protocol", "tcp"},
                                      {"source_ports", json::array()},
                                      {"destination_ports", {{{"from", 22}, {"to", 22}}}},
                                      {"comment", rule_uid}}));
    // A failed sync leaves the instance as it was.
    EXPECT_EQ(api.get("/api/v1/projects/" + project + "/instances/" + instance, token)
                  .body["instance"]["status"],
              "running");

    // With no rules there is no filter, which test:/// can truthfully have: the job succeeds and
    // records the host, the rules in force and the filter (none).
    ASSERT_EQ(remove(api, path + "/" + rule_uid, token).status, 204);
    const std::string last = last_sync_job(url, instance);
    job = finished_job(api, project, last, token);
    ASSERT_EQ(job["status"], "succeeded") << job.dump();
    const json result =
        json::parse(query_text(url, "SELECT result FROM jobs WHERE uid = '" + last + "'"));
    ASSERT_EQ(result["hosts"].size(), 1u) << result.dump();
    EXPECT_EQ(result["hosts"][0]["host"], "hv-a");
    EXPECT_EQ(result["hosts"][0]["host_id"], std::stoll(host));
    EXPECT_EQ(result["hosts"][0]["ok"], true);
    EXPECT_EQ(result["hosts"][0]["rules"], 0);
    EXPECT_TRUE(result["hosts"][0]["filter"].is_null());
    EXPECT_EQ(result["instance"], instance);
}
