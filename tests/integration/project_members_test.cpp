// Suble's project members on a real coordinator and PostgreSQL: the owner adds an existing account
// by email, the member then uses the project (instances, jobs) and loses it the moment they are
// removed; only the owner manages members and stays the owner; bad additions write nothing; other
// accounts still find no such project.
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/test_helpers.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>

using namespace vpsfleet::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

class project_members : public coordinator_suite {
  protected:
    api_reply as(const signed_up& who, const std::string& method, const std::string& path,
                 const json& body = nullptr) const {
        return api().call(method, "/api/v1" + path, body, api_client::bearer(who.access_token));
    }
};

// The uids of the projects GET /projects lists for the caller, with each one's role.
std::map<std::string, std::string> roles_seen(const api_reply& r) {
    std::map<std::string, std::string> out;
    for (const auto& p : r.body) out[p["uid"]] = p["role"];
    return out;
}

}  // namespace

TEST_F(project_members, a_member_added_by_email_uses_the_project_until_removed) {
    const auto owner = sign_up(api(), "owner@members.test");
    const auto dev = sign_up(api(), "dev+ci@members.test");
    const auto stranger = sign_up(api(), "stranger@members.test");
    const std::string project = first_project(api(), owner.access_token);
    const std::string dev_own = first_project(api(), dev.access_token);
    const std::string base = "/projects/" + project;

    const auto ordered = as(owner, "POST", base + "/instances", instance_order("web1"));
    ASSERT_EQ(ordered.status, 202) << ordered.raw;
    const std::string instance = ordered.body["instance"]["uid"];
    const std::string job = ordered.body["job"]["uid"];

    auto r = as(dev, "GET", base + "/instances");
    EXPECT_EQ(r.status, 404) << r.raw;
    EXPECT_EQ(r.body["error"]["code"], "project_not_found");

    // Suble trims and lower-cases the email.
    r = as(owner, "POST", base + "/members", {{"email", "  Dev+CI@Members.TEST "}});
    ASSERT_EQ(r.status, 204) << r.raw;
    EXPECT_EQ(query("SELECT count(*) FROM audit_log WHERE action = 'project.member_add' AND "
                    "target_id = '" +
                    project + "' AND after->>'email' = 'dev+ci@members.test'"),
              "1");

    const json expected_members = json::array({{{"email", "owner@members.test"},
                                                {"fullname", "Test User"},
                                                {"role", "owner"},
                                                {"status", "accepted"}},
                                               {{"email", "dev+ci@members.test"},
                                                {"fullname", "Test User"},
                                                {"role", "member"},
                                                {"status", "accepted"}}});
    for (const auto* who : {&owner, &dev}) {
        r = as(*who, "GET", base + "/members");
        ASSERT_EQ(r.status, 200) << r.raw;
        EXPECT_EQ(r.body, expected_members);
    }

    // The member sees the project beside their own, counted with its instance and two members.
    r = as(dev, "GET", "/projects");
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(roles_seen(r),
              (std::map<std::string, std::string>{{project, "member"}, {dev_own, "owner"}}));
    r = as(dev, "GET", base);
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["role"], "member");
    EXPECT_EQ(r.body["memberCount"], 2);
    EXPECT_EQ(r.body["instanceCount"], 1);
    EXPECT_EQ(as(owner, "GET", base).body["role"], "owner");

    r = as(dev, "GET", base + "/instances");
    ASSERT_EQ(r.status, 200) << r.raw;
    ASSERT_EQ(r.body["instances"].size(), 1u) << r.raw;
    EXPECT_EQ(r.body["instances"][0]["uid"], instance);
    EXPECT_EQ(as(dev, "GET", base + "/instances/" + instance).status, 200);
    r = as(dev, "GET", base + "/jobs");
    ASSERT_EQ(r.status, 200) << r.raw;
    ASSERT_FALSE(r.body["jobs"].empty()) << r.raw;
    EXPECT_EQ(as(dev, "GET", base + "/jobs/" + job).status, 200);
    // Members carry the project's permissions, not only reads.
    r = as(dev, "PATCH", base + "/instances/" + instance, {{"name", "web2"}});
    EXPECT_EQ(r.status, 200) << r.raw;

    // Others still find no such project, whatever they try.
    for (const auto& [method, path] : std::vector<std::pair<std::string, std::string>>{
             {"GET", base},
             {"GET", base + "/members"},
             {"GET", base + "/instances"},
             {"GET", base + "/jobs/" + job},
             {"DELETE", base + "/members/dev+ci@members.test"}}) {
        r = as(stranger, method, path);
        EXPECT_EQ(r.status, 404) << method << " " << path << " -> " << r.raw;
        EXPECT_EQ(r.body["error"]["code"], "project_not_found") << r.raw;
    }
    r = as(stranger, "POST", base + "/members", {{"email", "stranger@members.test"}});
    EXPECT_EQ(r.status, 404) << r.raw;
    EXPECT_EQ(roles_seen(as(stranger, "GET", "/projects")).count(project), 0u);

    // Removal (the email percent-encoded, '+' included) takes the project away at once.
    r = as(owner, "DELETE", base + "/members/dev%2Bci%40members.test");
    ASSERT_EQ(r.status, 204) << r.raw;
    r = as(dev, "GET", base + "/instances");
    EXPECT_EQ(r.status, 404) << r.raw;
    EXPECT_EQ(r.body["error"]["code"], "project_not_found");
    EXPECT_EQ(as(dev, "GET", base + "/jobs/" + job).status, 404);
    EXPECT_EQ(roles_seen(as(dev, "GET", "/projects")),
              (std::map<std::string, std::string>{{dev_own, "owner"}}));
    EXPECT_EQ(as(owner, "GET", base).body["memberCount"], 1);
    EXPECT_EQ(query("SELECT count(*) FROM audit_log WHERE action = 'project.member_remove' AND "
                    "target_id = '" +
                    project + "' AND before->>'email' = 'dev+ci@members.test'"),
              "1");
    r = as(owner, "DELETE", base + "/members/dev+ci@members.test");
    EXPECT_EQ(r.status, 404) << r.raw;
    EXPECT_EQ(r.body["error"]["code"], "member_not_found");
}

TEST_F(project_members, only_the_owner_manages_members_and_stays_owner) {
    const auto owner = sign_up(api(), "boss@roles.test");
    const auto dev = sign_up(api(), "dev@roles.test");
    const auto third = sign_up(api(), "third@roles.test");
    const std::string project = first_project(api(), owner.access_token);
    const std::string base = "/projects/" + project;
    ASSERT_EQ(as(owner, "POST", base + "/members", {{"email", "dev@roles.test"}}).status, 204);
    const std::string in_project =
        " m JOIN projects p ON p.id = m.project_id WHERE p.uid = '" + project + "'";

    // A member may not add, change or remove members, nor mint API keys (a key would outlive the
    // membership); reading the keys is allowed.
    for (const auto& [method, path, body] : std::vector<std::tuple<std::string, std::string, json>>{
             {"POST", base + "/members", {{"email", "third@roles.test"}}},
             {"PATCH", base + "/members/dev@roles.test", {{"role", "member"}}},
             {"DELETE", base + "/members/boss@roles.test", nullptr},
             {"DELETE", base + "/members/dev@roles.test", nullptr},
             {"POST", base + "/api-keys", {{"name", "mine"}}}}) {
        const auto r = as(dev, method, path, body);
        EXPECT_EQ(r.status, 403) << method << " " << path << " -> " << r.raw;
        EXPECT_EQ(r.body["error"]["code"], "missing_permission") << r.raw;
    }
    EXPECT_EQ(as(dev, "GET", base + "/api-keys").status, 200);
    EXPECT_EQ(query("SELECT count(*) FROM project_members" + in_project), "1");
    EXPECT_EQ(query("SELECT count(*) FROM api_keys" + in_project), "0");

    // The owner is neither removed nor demoted.
    auto r = as(owner, "DELETE", base + "/members/boss@roles.test");
    EXPECT_EQ(r.status, 409) << r.raw;
    EXPECT_EQ(r.body["error"]["code"], "owner_not_removable");
    r = as(owner, "PATCH", base + "/members/BOSS@roles.test", {{"role", "member"}});
    EXPECT_EQ(r.status, 409) << r.raw;
    EXPECT_EQ(r.body["error"]["code"], "owner_role_fixed");

    // Suble has one member role: setting it is accepted (and audited); anything else is refused.
    r = as(owner, "PATCH", base + "/members/dev@roles.test", {{"role", "member"}});
    EXPECT_EQ(r.status, 204) << r.raw;
    EXPECT_EQ(query("SELECT count(*) FROM audit_log WHERE action = 'project.member_update' AND "
                    "after->>'email' = 'dev@roles.test' AND before->>'role' = 'member' AND "
                    "after->>'role' = 'member'"),
              "1");
    for (const json& body :
         {json{{"role", "owner"}}, json{{"role", "viewer"}}, json{{"role", 1}}, json::object()}) {
        r = as(owner, "PATCH", base + "/members/dev@roles.test", body);
        EXPECT_EQ(r.status, 400) << body.dump() << " -> " << r.raw;
        EXPECT_EQ(r.body["error"]["code"], "invalid_role") << r.raw;
    }
    r = as(owner, "PATCH", base + "/members/third@roles.test", {{"role", "member"}});
    EXPECT_EQ(r.status, 404) << r.raw;
    EXPECT_EQ(r.body["error"]["code"], "member_not_found");
    EXPECT_EQ(as(owner, "GET", base + "/members").body[1]["role"], "member");
    EXPECT_EQ(query("SELECT count(*) FROM audit_log WHERE action = 'project.member_update' AND "
                    "target_id = '" +
                    project + "'"),
              "1");

    // A project key manages members only with WRITE_MEMBERS (bit 32).
    const auto reader = as(owner, "POST", base + "/api-keys", {{"name", "ro"}, {"permissions", 1}});
    ASSERT_EQ(reader.status, 201) << reader.raw;
    const auto writer =
        as(owner, "POST", base + "/api-keys", {{"name", "rw"}, {"permissions", 32}});
    ASSERT_EQ(writer.status, 201) << writer.raw;
    const json add_third = {{"email", "third@roles.test"}};
    r = api().call("POST", "/api/v1" + base + "/members", add_third,
                   api_client::bearer(reader.body["secret"]));
    EXPECT_EQ(r.status, 403) << r.raw;
    r = api().call("POST", "/api/v1" + base + "/members", add_third,
                   api_client::bearer(writer.body["secret"]));
    EXPECT_EQ(r.status, 204) << r.raw;
    EXPECT_EQ(as(third, "GET", base + "/instances").status, 200);
}

TEST_F(project_members, bad_additions_are_refused_and_write_nothing) {
    const auto owner = sign_up(api(), "owner@bad.test");
    sign_up(api(), "dev@bad.test");
    const std::string project = first_project(api(), owner.access_token);
    const std::string members = "/projects/" + project + "/members";

    for (const auto& [body, code] :
         std::vector<std::pair<json, std::string>>{{json::object(), "invalid_email"},
                                                   {{{"email", ""}}, "invalid_email"},
                                                   {{{"email", "   "}}, "invalid_email"},
                                                   {{{"email", "not-an-email"}}, "invalid_email"},
                                                   {{{"email", 42}}, "invalid_email"}}) {
        const auto r = as(owner, "POST", members, body);
        EXPECT_EQ(r.status, 400) << body.dump() << " -> " << r.raw;
        EXPECT_EQ(r.body["error"]["code"], code) << r.raw;
    }
    auto r = as(owner, "POST", members, {{"email", "nobody@bad.test"}});
    EXPECT_EQ(r.status, 404) << r.raw;
    EXPECT_EQ(r.body["error"]["code"], "not_found");
    r = as(owner, "POST", members, {{"email", "owner@bad.test"}});
    EXPECT_EQ(r.status, 409) << r.raw;
    EXPECT_EQ(r.body["error"]["code"], "already_member");
    r = as(owner, "POST", "/projects/prj_nope/members", {{"email", "dev@bad.test"}});
    EXPECT_EQ(r.status, 404) << r.raw;
    EXPECT_EQ(r.body["error"]["code"], "project_not_found");
    EXPECT_EQ(query("SELECT count(*) FROM project_members m JOIN projects p ON p.id = "
                    "m.project_id WHERE p.uid = '" +
                    project + "'"),
              "0");
    EXPECT_EQ(query("SELECT count(*) FROM audit_log WHERE action LIKE 'project.member%' AND "
                    "target_id = '" +
                    project + "'"),
              "0");

    r = as(owner, "POST", members, {{"email", "dev@bad.test"}, {"role", "member"}});
    ASSERT_EQ(r.status, 204) << r.raw;
    r = as(owner, "POST", members, {{"email", "DEV@bad.test"}});
    EXPECT_EQ(r.status, 409) << r.raw;
    EXPECT_EQ(r.body["error"]["code"], "already_member");
    EXPECT_EQ(as(owner, "GET", members).body.size(), 2u);
    EXPECT_EQ(query("SELECT count(*) FROM audit_log WHERE action = 'project.member_add' AND "
                    "target_id = '" +
                    project + "'"),
              "1");
}
