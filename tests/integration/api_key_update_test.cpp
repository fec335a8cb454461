// Changing a project API key's permissions and name (PATCH /projects/{project}/api-keys/{key}) on
// a real coordinator process and PostgreSQL: the key's next request is held to the new bits,
// bad input changes nothing, and keys of other projects are out of reach.
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/test_helpers.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>

using namespace vpsfleet::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

class api_key_update : public coordinator_suite {
  protected:
    struct key {
        std::string uid;
        std::string secret;
    };
    key create_key(const std::string& project, const std::string& token, const json& permissions,
                   const std::string& name = "deploy") const {
        const auto r = api().post("/api/v1/projects/" + project + "/api-keys",
                                  {{"name", name}, {"permissions", permissions}}, token);
        EXPECT_EQ(r.status, 201) << r.raw;
        return {r.body.value("uid", ""), r.body.value("secret", "")};
    }
    api_reply patch(const std::string& project, const std::string& key_uid, const json& body,
                    const std::string& token) const {
        return api().call("PATCH", "/api/v1/projects/" + project + "/api-keys/" + key_uid, body,
                          api_client::bearer(token));
    }
    // name|permissions of the key as stored.
    static std::string stored(const std::string& key_uid) {
        return query("SELECT name || '|' || permissions FROM api_keys WHERE uid = '" + key_uid +
                     "'");
    }
};

constexpr int k_read_vps = 1, k_order_product = 8, k_read_api = 64, k_write_api = 128;

}  // namespace

TEST_F(api_key_update, the_keys_next_request_is_held_to_its_new_permissions) {
    const auto owner = sign_up(api(), "update-owner@example.com");
    const std::string project = first_project(api(), owner.access_token);
    const std::string instances = "/api/v1/projects/" + project + "/instances";
    const auto k =
        create_key(project, owner.access_token, k_read_vps | k_order_product | k_read_api);

    // Several requests first, so the pool's connections have the key lookup prepared.
    for (int i = 0; i < 4; ++i) ASSERT_EQ(api().get(instances, k.secret).status, 200);
    ASSERT_EQ(api().post(instances, instance_order("before"), k.secret).status, 202);

    const auto updated =
        patch(project, k.uid, {{"permissions", json::array({"READ_VPS", "READ_API"})}},
              owner.access_token);
    ASSERT_EQ(updated.status, 200) << updated.raw;
    EXPECT_EQ(updated.body["uid"], k.uid);
    EXPECT_EQ(updated.body["name"], "deploy");
    EXPECT_EQ(updated.body["permissions"], k_read_vps | k_read_api);
    EXPECT_FALSE(updated.body.contains("secret"));

    const auto refused = api().post(instances, instance_order("after"), k.secret);
    EXPECT_EQ(refused.status, 403) << refused.raw;
    EXPECT_EQ(refused.body["error"]["code"], "missing_permission");
    EXPECT_NE(refused.body["error"]["message"].get<std::string>().find("ORDER_PRODUCT"),
              std::string::npos);
    EXPECT_EQ(query("SELECT count(*) FROM instances WHERE name = 'after'"), "0");
    EXPECT_EQ(api().get(instances, k.secret).status, 200) << "READ_VPS is still granted";

    const auto listed = api().get("/api/v1/projects/" + project + "/api-keys", k.secret);
    ASSERT_EQ(listed.status, 200) << listed.raw;
    EXPECT_EQ(listed.body[0]["permissions"], k_read_vps | k_read_api);
    EXPECT_EQ(query("SELECT (before->>'permissions') || '>' || (after->>'permissions') FROM "
                    "audit_log WHERE action = 'api_key.update' AND target_id = '" +
                    k.uid + "'"),
              "73>65");

    // The document's integer mask works too, and the name alone can change.
    const auto restored = patch(project, k.uid, {{"permissions", 73}}, owner.access_token);
    EXPECT_EQ(restored.status, 200) << restored.raw;
    EXPECT_EQ(api().post(instances, instance_order("again"), k.secret).status, 202);
    const auto renamed = patch(project, k.uid, {{"name", "ci bot"}}, owner.access_token);
    EXPECT_EQ(renamed.status, 200) << renamed.raw;
    EXPECT_EQ(stored(k.uid), "ci bot|73");
}

TEST_F(api_key_update, bad_permissions_or_names_are_refused_and_change_nothing) {
    const auto owner = sign_up(api(), "update-bad@example.com");
    const std::string project = first_project(api(), owner.access_token);
    const auto k = create_key(project, owner.access_token, k_read_api);
    const std::string audits = "SELECT count(*) FROM audit_log WHERE action = 'api_key.update'";
    const std::string audits_before = query(audits);

    const auto unknown =
        patch(project, k.uid,
              {{"name", "renamed"}, {"permissions", json::array({"READ_VPS", "READ_EVERYTHING"})}},
              owner.access_token);
    EXPECT_EQ(unknown.status, 400) << unknown.raw;
    EXPECT_EQ(unknown.body["error"]["code"], "invalid_request");
    EXPECT_EQ(unknown.body["error"]["details"]["field"], "permissions");
    EXPECT_EQ(unknown.body["error"]["details"]["unknown"], json::array({"READ_EVERYTHING"}));
    EXPECT_NE(unknown.body["error"]["message"].get<std::string>().find("READ_EVERYTHING"),
              std::string::npos);

    for (const json& body :
         {json{{"permissions", -1}}, json{{"permissions", 2147483648LL}},
          json{{"permissions", 1.5}}, json{{"permissions", "READ_VPS"}},
          json{{"permissions", json::array({1})}}, json{{"name", ""}},
          json{{"name", std::string(65, 'x')}}, json{{"name", 7}}, json::object()}) {
        const auto r = patch(project, k.uid, body, owner.access_token);
        EXPECT_EQ(r.status, 400) << body.dump() << " " << r.raw;
        EXPECT_EQ(r.body["error"]["code"], "invalid_request") << body.dump();
    }
    EXPECT_EQ(stored(k.uid), "deploy|64");
    EXPECT_EQ(query(audits), audits_before);

    // Creating a key validates permissions the same way.
    const auto bad_create =
        api().post("/api/v1/projects/" + project + "/api-keys",
                   {{"name", "x"}, {"permissions", json::array({"ROOT"})}}, owner.access_token);
    EXPECT_EQ(bad_create.status, 400) << bad_create.raw;
    EXPECT_EQ(bad_create.body["error"]["details"]["unknown"], json::array({"ROOT"}));
}

TEST_F(api_key_update, keys_of_other_projects_are_not_found) {
    const auto owner = sign_up(api(), "update-two@example.com");
    const std::string home = first_project(api(), owner.access_token);
    const auto other = api().post("/api/v1/projects", {{"name", "Other"}}, owner.access_token);
    ASSERT_EQ(other.status, 201) << other.raw;
    const std::string away = other.body["uid"];
    const auto away_key = create_key(away, owner.access_token, k_read_api);

    const auto wrong_project = patch(home, away_key.uid, {{"permissions", 0}}, owner.access_token);
    EXPECT_EQ(wrong_project.status, 404) << wrong_project.raw;
    EXPECT_EQ(wrong_project.body["error"]["code"], "api_key_not_found");

    const auto stranger = sign_up(api(), "update-stranger@example.com");
    const auto foreign = patch(away, away_key.uid, {{"permissions", 0}}, stranger.access_token);
    EXPECT_EQ(foreign.status, 404) << foreign.raw;
    EXPECT_EQ(foreign.body["error"]["code"], "project_not_found");

    const auto revoked = create_key(away, owner.access_token, k_read_api, "old");
    ASSERT_EQ(api()
                  .call("DELETE", "/api/v1/projects/" + away + "/api-keys/" + revoked.uid, nullptr,
                        api_client::bearer(owner.access_token))
                  .status,
              204);
    const auto gone = patch(away, revoked.uid, {{"name", "back"}}, owner.access_token);
    EXPECT_EQ(gone.status, 404) << gone.raw;
    EXPECT_EQ(gone.body["error"]["code"], "api_key_not_found");

    EXPECT_EQ(stored(away_key.uid), "deploy|64");
    EXPECT_EQ(stored(revoked.uid), "old|64");
}

TEST_F(api_key_update, a_key_grants_no_more_than_it_holds) {
    const auto owner = sign_up(api(), "update-keys@example.com");
    const std::string project = first_project(api(), owner.access_token);
    const auto admin = create_key(project, owner.access_token, k_read_api | k_write_api, "admin");
    const auto reader = create_key(project, owner.access_token, k_read_api, "reader");
    const auto target = create_key(project, owner.access_token, k_read_vps, "target");

    const auto raise = patch(project, target.uid, {{"permissions", 2147483647}}, admin.secret);
    EXPECT_EQ(raise.status, 403) << raise.raw;
    EXPECT_EQ(raise.body["error"]["code"], "missing_permission");
    const auto self_raise = patch(
        project, admin.uid,
        {{"permissions", json::array({"READ_API", "WRITE_API", "ORDER_PRODUCT"})}}, admin.secret);
    EXPECT_EQ(self_raise.status, 403) << self_raise.raw;
    const auto no_write = patch(project, target.uid, {{"name", "x"}}, reader.secret);
    EXPECT_EQ(no_write.status, 403) << no_write.raw;
    EXPECT_EQ(no_write.body["error"]["code"], "missing_permission");
    EXPECT_EQ(stored(target.uid), "target|1");
    EXPECT_EQ(stored(admin.uid), "admin|192");

    const auto lowered =
        patch(project, target.uid, {{"permissions", json::array({"READ_API"})}}, admin.secret);
    EXPECT_EQ(lowered.status, 200) << lowered.raw;
    EXPECT_EQ(stored(target.uid), "target|64");
}

// A key acts inside its project: even with every permission it cannot spend the account's money,
// read its billing, change its credentials or limits, or open projects; the owner still can.
TEST_F(api_key_update, a_key_with_every_permission_stays_out_of_the_account) {
    const auto owner = sign_up(api(), "account-owner@example.com");
    const std::string project = first_project(api(), owner.access_token);
    const auto all = create_key(project, owner.access_token, 2147483647, "everything");
    const std::string key =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDw4aKQBT7gNLKjHljVcrqkA3eAk03Y7zBz+pOjRHOxP k@host";
    const struct {
        const char* method;
        const char* path;
        json body;
    } routes[] = {
        {"GET", "/billing/credits", nullptr},
        {"GET", "/billing/overview", nullptr},
        {"GET", "/billing/invoices", nullptr},
        {"GET", "/billing/settings", nullptr},
        {"PUT", "/billing/settings", {{"autorechargeEnabled", false}}},
        {"POST", "/billing/alerts", {{"thresholdOre", 10000}}},
        {"POST", "/billing/top-up", {{"amountOre", 20000}}},
        {"GET", "/billing/payment-methods", nullptr},
        {"POST", "/billing/promo", {{"code", "WELCOME"}}},
        {"GET", "/billing/details", nullptr},
        {"POST", "/account/sshkeys", {{"name", "k"}, {"publicKey", key}}},
        {"GET", "/account/sshkeys", nullptr},
        {"PATCH", "/account/profile", {{"name", "Mallory"}}},
        {"POST", "/account/mfa/enable", json::object()},
        {"GET", "/account/limits", nullptr},
        {"POST", "/account/limit-requests", {{"reason", "more"}, {"instances", 50}}},
        {"POST", "/projects", {{"name", "side project"}}},
    };
    const std::string before = query(
        "SELECT (SELECT count(*) FROM projects) || '|' || (SELECT count(*) FROM "
        "account_ssh_keys) || '|' || (SELECT count(*) FROM limit_requests) || '|' || "
        "(SELECT count(*) FROM payments)");
    for (const auto& r : routes) {
        const auto answer = api().call(r.method, std::string("/api/v1") + r.path, r.body,
                                       api_client::bearer(all.secret));
        EXPECT_EQ(answer.status, 403) << r.method << " " << r.path << ": " << answer.raw;
        EXPECT_EQ(answer.body["error"]["code"], "forbidden") << r.path;
    }
    EXPECT_EQ(query("SELECT (SELECT count(*) FROM projects) || '|' || (SELECT count(*) FROM "
                    "account_ssh_keys) || '|' || (SELECT count(*) FROM limit_requests) || '|' || "
                    "(SELECT count(*) FROM payments)"),
              before);
    // Inside its project the key still works, and the owner reaches the account.
    EXPECT_EQ(api().get("/api/v1/projects/" + project + "/instances", all.secret).status, 200);
    EXPECT_EQ(api().get("/api/v1/projects", all.secret).status, 200);
    EXPECT_EQ(api().get("/api/v1/billing/credits", owner.access_token).status, 200);
    EXPECT_EQ(api().get("/api/v1/account/limits", owner.access_token).status, 200);
}
