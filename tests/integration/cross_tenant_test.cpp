// Tenant isolation over every customer route that names a resource, on a real coordinator and
// PostgreSQL. Alice owns a project with an instance, its job, an API key, a firewall rule, a
// template, a member and an account SSH key; Mallory, signed in with her own account, names each
// of them, through Alice's project and through her own. Every call answers 404 in the API's error
// shape, and none of Alice's rows changes.
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/fleet_fixture.hpp"
#include "tests/integration/test_helpers.hpp"

#include <gtest/gtest.h>

#include <regex>

using namespace vpsfleet::testing;
using json = nlohmann::json;

namespace {

const char* const k_key =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEbM09REu0z0cYGLe9UEPRr9uTBmZtNfhQ0qv7dy250N me@laptop";

struct route {
    std::string method;
    std::string path;  // below /api/v1, with {project}, {instance}, {job}, ... to fill in
    json body = nullptr;
};

// Every customer route with a resource id in its path. A body is given where the route takes
// one, valid, so that only ownership can refuse the call.
std::vector<route> routes_with_ids() {
    const json order = instance_order("stolen");
    const json rule = {
        {"direction", "in"}, {"action", "ACCEPT"}, {"proto", "tcp"}, {"dport", "22"}};
    return {
        {"GET", "/projects/{project}"},
        {"GET", "/projects/{project}/instances"},
        {"POST", "/projects/{project}/instances", order},
        {"GET", "/projects/{project}/instances/{instance}"},
        {"PATCH", "/projects/{project}/instances/{instance}", {{"name", "renamed"}}},
        {"DELETE", "/projects/{project}/instances/{instance}"},
        {"POST", "/projects/{project}/instances/{instance}/actions", {{"type", "start"}}},
        {"POST", "/projects/{project}/instances/{instance}/resize", {{"plan", "bxs-2-4"}}},
        {"POST",
         "/projects/{project}/instances/{instance}/rebuild",
         {{"source", {{"image", "img_debian12"}}}}},
        {"POST", "/projects/{project}/instances/{instance}/password", json::object()},
        {"POST", "/projects/{project}/instances/{instance}/password/acknowledge", json::object()},
        {"POST", "/projects/{project}/instances/{instance}/ssh-key", {{"publicKey", k_key}}},
        {"GET", "/projects/{project}/instances/{instance}/events"},
        {"GET", "/projects/{project}/instances/{instance}/metrics"},
        {"GET", "/projects/{project}/instances/{instance}/ips"},
        {"PATCH",
         "/projects/{project}/instances/{instance}/ips/192.0.2.10",
         {{"reverse_dns", "mail.example.com"}}},
        {"GET", "/projects/{project}/instances/{instance}/firewall"},
        {"POST", "/projects/{project}/instances/{instance}/firewall", rule},
        {"PATCH", "/projects/{project}/instances/{instance}/firewall/{rule}", rule},
        {"DELETE", "/projects/{project}/instances/{instance}/firewall/{rule}"},
        {"GET", "/projects/{project}/jobs"},
        {"GET", "/projects/{project}/jobs/{job}"},
        {"GET", "/projects/{project}/ip-ranges"},
        {"GET", "/projects/{project}/api-keys"},
        {"POST", "/projects/{project}/api-keys", {{"name", "stolen"}, {"permissions", 1}}},
        {"PATCH", "/projects/{project}/api-keys/{key}", {{"name", "renamed"}}},
        {"DELETE", "/projects/{project}/api-keys/{key}"},
        {"GET", "/projects/{project}/members"},
        {"POST", "/projects/{project}/members", {{"email", "mallory@tenants.test"}}},
        {"PATCH", "/projects/{project}/members/{member}", {{"role", "member"}}},
        {"DELETE", "/projects/{project}/members/{member}"},
        {"GET", "/projects/{project}/templates"},
        {"PATCH", "/projects/{project}/templates/{template}", {{"name", "renamed"}}},
        {"DELETE", "/projects/{project}/templates/{template}"},
        {"DELETE", "/account/sshkeys/{sshkey}"},
    };
}

std::string fill(std::string path, const std::map<std::string, std::string>& ids) {
    for (const auto& [name, value] : ids) {
        path = std::regex_replace(path, std::regex("\\{" + name + "\\}"), value);
    }
    return path;
}

// A digest of every row a customer route could change.
std::string tenant_rows(const std::string& url) {
    std::string digest;
    for (const char* table :
         {"projects", "instances", "jobs", "api_keys", "firewall_rules", "templates",
          "project_members", "account_ssh_keys", "vm_ip_assignments", "commands"}) {
        digest += query_text(url, std::string("SELECT count(*) || ':' || coalesce(md5(string_agg("
                                              "t::text, '|' ORDER BY t::text)), '') FROM ") +
                                      table + " t") +
                  " ";
    }
    return digest;
}

}  // namespace

TEST(cross_tenant, another_accounts_resources_answer_404_and_nothing_changes) {
    fleet_fixture fleet;  // no host: Alice's order fails to find room, which is all it needs
    const auto& url = fleet.database_url();
    const api_client api(fleet.coordinator().port);
    const auto alice = sign_up(api, "alice@tenants.test");
    const auto mallory = sign_up(api, "mallory@tenants.test");
    sign_up(api, "bob@tenants.test");

    std::map<std::string, std::string> theirs;  // Alice's ids
    theirs["project"] = first_project(api, alice.access_token);
    const std::string base = "/api/v1/projects/" + theirs["project"];
    const auto created = api.post(base + "/instances", instance_order("web"), alice.access_token);
    ASSERT_EQ(created.status, 202) << created.raw;
    theirs["instance"] = created.body["instance"]["uid"];
    theirs["job"] = created.body["job"]["uid"];
    finished_job(api, theirs["project"], theirs["job"], alice.access_token);
    const auto key =
        api.post(base + "/api-keys", {{"name", "ci"}, {"permissions", 1}}, alice.access_token);
    ASSERT_EQ(key.status, 201) << key.raw;
    theirs["key"] = key.body["uid"];
    ASSERT_EQ(
        api.post(base + "/members", {{"email", "bob@tenants.test"}}, alice.access_token).status,
        204);
    theirs["member"] = "bob@tenants.test";
    const auto sshkey = api.post("/api/v1/account/sshkeys",
                                 {{"name", "laptop"}, {"public_key", k_key}}, alice.access_token);
    ASSERT_EQ(sshkey.status, 201) << sshkey.raw;
    theirs["sshkey"] = sshkey.body["ssh_key"]["uid"];
    theirs["rule"] = "fwr_alice";
    exec_sql(url,
             "INSERT INTO firewall_rules (uid, instance_id, position, direction, action) "
             "SELECT 'fwr_alice', id, 1, 'in', 'ACCEPT' FROM instances WHERE uid = '" +
                 theirs["instance"] + "'");
    theirs["template"] = "tpl_alice";
    exec_sql(url,
             "INSERT INTO templates (uid, project_id, name, image_id, size_gb, min_disk_gb, "
             "status) SELECT 'tpl_alice', p.id, 'golden', i.id, 10, 10, 'ready' FROM projects p, "
             "os_images i WHERE p.uid = '" +
                 theirs["project"] + "' AND i.uid = 'img_debian12'");
    const std::string before = tenant_rows(url);

    // Mallory's own project, with Alice's resources named inside it.
    auto through_own = theirs;
    through_own["project"] = first_project(api, mallory.access_token);
    int checked = 0;
    for (const auto& ids : {theirs, through_own}) {
        for (const auto& r : routes_with_ids()) {
            // Through her own project Mallory may list and create: only routes naming one of
            // Alice's resources inside it are hers to be refused.
            const bool names_a_resource =
                std::regex_replace(r.path, std::regex("\\{project\\}"), "").find('{') !=
                std::string::npos;
            if (ids.at("project") != theirs.at("project") &&
                (r.path.find("{project}") == std::string::npos || !names_a_resource)) {
                continue;
            }
            const std::string path = "/api/v1" + fill(r.path, ids);
            const auto reply =
                api.call(r.method, path, r.body, api_client::bearer(mallory.access_token));
            EXPECT_EQ(reply.status, 404) << r.method << " " << path << " -> " << reply.raw;
            const std::string code = reply.body["error"]["code"].is_string()
                                         ? reply.body["error"]["code"].get<std::string>()
                                         : "";
            EXPECT_TRUE(code.ends_with("not_found"))
                << r.method << " " << path << " -> " << reply.raw;
            ++checked;
        }
    }
    EXPECT_GT(checked, 50);
    EXPECT_EQ(tenant_rows(url), before) << "a refused call changed a row";
    // Alice still sees all of it.
    EXPECT_EQ(api.get(base + "/instances/" + theirs["instance"], alice.access_token).status, 200);
    EXPECT_EQ(api.get(base + "/api-keys", alice.access_token).body.size(), 1u);
}
