// Join tokens through the admin API on a real fleet: an operator creates one for a region (shown
// once, stored hashed), a host enrolls with it exactly once, an unused token is revoked and then
// enrolls nothing, and a used one stays as the record of how its host joined.
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/fleet_fixture.hpp"
#include "tests/integration/test_helpers.hpp"

#include <gtest/gtest.h>

using namespace vpsfleet::testing;
using json = nlohmann::json;

TEST(admin_join_tokens, created_once_enroll_once_and_revoked_while_unused) {
    fleet_fixture fleet;
    const auto& url = fleet.database_url();
    const api_client api(fleet.coordinator().port);
    const auto ops = sign_up(api, "ops@example.com");
    grant_role(url, ops.email, "super_admin");
    const auto viewer = sign_up(api, "viewer@example.com");
    grant_role(url, viewer.email, "read_only");
    const auto admin = [&](const std::string& method, const std::string& path, const json& body,
                           const std::string& token) {
        return api.call(method, "/api/admin/v1" + path, body, api_client::bearer(token));
    };
    const auto region =
        std::stoll(query_text(url, "SELECT id FROM regions WHERE name = 'default'"));

    auto r = admin("POST", "/join_tokens", {{"region_id", region}, {"ttl_seconds", 600}},
                   ops.access_token);
    ASSERT_EQ(r.status, 201) << r.raw;
    const std::string token = r.body["data"]["token"];
    const auto used_id = r.body["data"]["id"].get<std::int64_t>();
    EXPECT_TRUE(token.starts_with("vfj_")) << token;
    EXPECT_EQ(r.body["data"]["state"], "active");
    EXPECT_EQ(r.body["data"]["region_name"], "default");
    EXPECT_EQ(query_text(url, "SELECT count(*) FROM join_tokens WHERE token_hash LIKE 'vfj_%'"),
              "0")
        << "tokens are stored hashed";

    for (const json& bad :
         {json{{"ttl_seconds", 600}}, json{{"region_id", region}, {"ttl_seconds", 5}},
          json{{"region_id", "default"}}}) {
        r = admin("POST", "/join_tokens", bad, ops.access_token);
        EXPECT_EQ(r.status, 400) << bad.dump() << ": " << r.raw;
        EXPECT_TRUE(r.body["error"].is_string()) << r.raw;
    }
    EXPECT_EQ(admin("POST", "/join_tokens", {{"region_id", 9999}}, ops.access_token).status, 404);
    EXPECT_EQ(admin("POST", "/join_tokens", {{"region_id", region}}, viewer.access_token).status,
              403);
    EXPECT_EQ(query_text(url, "SELECT count(*) FROM join_tokens"), "1") << "refusals wrote nothing";

    ASSERT_EQ(fleet.enroll("hv-a", token).status, 0);
    EXPECT_NE(fleet.enroll("hv-b", token).status, 0) << "a token enrolls one host";
    r = admin("GET", "/join_tokens/" + std::to_string(used_id), nullptr, viewer.access_token);
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["data"]["state"], "used");
    EXPECT_FALSE(r.body["data"].contains("token"));
    EXPECT_EQ(r.body["data"]["host_id"].dump(),
              query_text(url, "SELECT id FROM hosts WHERE name = 'hv-a'"));

    r = admin("POST", "/join_tokens", {{"region_id", region}}, ops.access_token);
    ASSERT_EQ(r.status, 201) << r.raw;
    const std::string unused = r.body["data"]["token"];
    const auto unused_id = r.body["data"]["id"].get<std::int64_t>();
    r = admin("GET", "/join_tokens", nullptr, viewer.access_token);
    EXPECT_EQ(r.body["total"], 2) << r.raw;
    EXPECT_EQ(admin("DELETE", "/join_tokens/" + std::to_string(used_id), nullptr, ops.access_token)
                  .status,
              409);
    EXPECT_EQ(
        admin("DELETE", "/join_tokens/" + std::to_string(unused_id), nullptr, ops.access_token)
            .status,
        200);
    EXPECT_NE(fleet.enroll("hv-c", unused).status, 0) << "a revoked token enrolls nothing";
    EXPECT_EQ(query_text(url, "SELECT count(*) FROM hosts"), "1");
    EXPECT_EQ(query_text(url, "SELECT count(*) FROM audit_log WHERE action LIKE 'join_token.%'"),
              "3");
}
