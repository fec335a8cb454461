// Account quotas end to end on a real coordinator and PostgreSQL: GET /account/limits shows usage
// that follows the account's instances, customers ask for more with /account/limit-requests (one
// pending per quota, bad input refused with nothing written), operators approve or deny through
// the admin API, and ordering past the instances or memory limit is refused with nothing written.
// The coordinator runs with small defaults (2 instances, 6144 MiB); instances are ordered with no
// host in the fleet, so their create jobs fail but their rows stay live and count.
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/test_helpers.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>

#include <regex>

using namespace vpsfleet::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

class account_limits : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        db_url_ = new std::string(fresh_database());
        coordinator_ = new running_daemon(start_coordinator(
            *db_url_, "limits:\n  instances: 2\n  memory_mb: 6144\n  template_storage_gb: 50\n"));
        ASSERT_EQ(wait_for_status("127.0.0.1", coordinator_->port, "/readyz", 200, 20s).status,
                  200);
        const auto boss = sign_up(api_client(coordinator_->port), "limits-boss@example.com");
        grant_role(*db_url_, boss.email, "super_admin");
        boss_ = new std::string(boss.access_token);
        const auto viewer = sign_up(api_client(coordinator_->port), "limits-viewer@example.com");
        grant_role(*db_url_, viewer.email, "read_only");
        viewer_ = new std::string(viewer.access_token);
    }
    static void TearDownTestSuite() {
        delete coordinator_;
        delete db_url_;
        delete boss_;
        delete viewer_;
    }

    api_client api() const { return api_client(coordinator_->port); }
    static std::string query(const std::string& sql) { return query_text(*db_url_, sql); }
    static std::string user_id(const std::string& email) {
        return query("SELECT id FROM users WHERE email = '" + email + "'");
    }

    json limits_of(const signed_up& user) const {
        const auto r = api().get("/api/v1/account/limits", user.access_token);
        EXPECT_EQ(r.status, 200) << r.raw;
        return r.body;
    }
    // {used, limit} of one quota.
    std::pair<std::int64_t, std::int64_t> quota(const signed_up& user, const std::string& key) {
        for (const auto& q : limits_of(user)) {
            if (q["key"] == key)
                return {q["used"].get<std::int64_t>(), q["limit"].get<std::int64_t>()};
        }
        ADD_FAILURE() << "no quota " << key;
        return {-1, -1};
    }
    api_reply order(const signed_up& user, const std::string& name, const std::string& plan) {
        const std::string project = first_project(api(), user.access_token);
        return api().post("/api/v1/projects/" + project + "/instances", instance_order(name, plan),
                          user.access_token);
    }
    api_reply ask(const signed_up& user, const json& body) {
        return api().post("/api/v1/account/limit-requests", body, user.access_token);
    }
    api_reply admin(const std::string& method, const std::string& path, const json& body = nullptr,
                    const std::string& token = {}) const {
        return api().call(method, "/api/admin/v1" + path, body,
                          api_client::bearer(token.empty() ? *boss_ : token));
    }
    static std::string instances_of(const std::string& email) {
        return query(
            "SELECT count(*) FROM instances i JOIN projects p ON p.id = i.project_id "
            "JOIN users u ON u.id = p.owner_user_id WHERE u.email = '" +
            email + "'");
    }

    static inline std::string* db_url_ = nullptr;
    static inline running_daemon* coordinator_ = nullptr;
    static inline std::string* boss_ = nullptr;
    static inline std::string* viewer_ = nullptr;
};

const json k_use_case = "Scaling out a CI fleet for nightly integration tests";

}  // namespace

TEST_F(account_limits, each_quota_shows_live_usage_against_the_platform_default) {
    const auto user = sign_up(api(), "usage@example.com");
    const auto other = sign_up(api(), "usage-other@example.com");
    EXPECT_EQ(api().get("/api/v1/account/limits").status, 401);

    EXPECT_EQ(limits_of(user), json::parse(R"([
        {"key": "instances", "used": 0, "limit": 2},
        {"key": "memoryMb", "used": 0, "limit": 6144},
        {"key": "templateStorageGb", "used": 0, "limit": 50},
        {"key": "restoresPerMonth", "used": 0, "limit": 3}])"));

    ASSERT_EQ(order(user, "web", "bxs-2-4").status, 202);
    ASSERT_EQ(order(other, "web", "bxs-1").status, 202);
    EXPECT_EQ(quota(user, "instances"), std::make_pair(std::int64_t{1}, std::int64_t{2}));
    EXPECT_EQ(quota(user, "memoryMb"), std::make_pair(std::int64_t{4096}, std::int64_t{6144}));
    EXPECT_EQ(quota(other, "memoryMb"), std::make_pair(std::int64_t{2048}, std::int64_t{6144}));

    // A deleted instance no longer counts.
    exec_sql(*db_url_,
             "UPDATE instances i SET status = 'deleted', deleted_at = now() FROM projects p "
             "WHERE p.id = i.project_id AND p.owner_user_id = " +
                 user_id(user.email));
    EXPECT_EQ(quota(user, "instances").first, 0);
    EXPECT_EQ(quota(user, "memoryMb").first, 0);
}

TEST_F(account_limits, ordering_past_the_instances_limit_is_refused_and_writes_nothing) {
    const auto user = sign_up(api(), "count@example.com");
    ASSERT_EQ(order(user, "one", "bxs-1").status, 202);
    ASSERT_EQ(order(user, "two", "bxs-1").status, 202);
    const auto jobs_before = query("SELECT count(*) FROM jobs");
    const auto audits_before = query("SELECT count(*) FROM audit_log");

    const auto refused = order(user, "three", "bxs-1");
    EXPECT_EQ(refused.status, 403) << refused.raw;
    EXPECT_EQ(refused.body["error"]["code"], "limit_exceeded");
    EXPECT_EQ(refused.body["error"]["details"],
              json({{"quota", "instances"}, {"limit", 2}, {"used", 2}, {"needed", 1}}));
    const std::string message = refused.body["error"]["message"];
    EXPECT_NE(message.find("instances limit is 2"), std::string::npos) << message;
    EXPECT_NE(message.find("2 is in use"), std::string::npos) << message;

    EXPECT_EQ(instances_of(user.email), "2");
    EXPECT_EQ(query("SELECT count(*) FROM jobs"), jobs_before);
    EXPECT_EQ(query("SELECT count(*) FROM audit_log"), audits_before);
}

TEST_F(account_limits, ordering_past_the_memory_limit_is_refused_and_a_fitting_plan_is_not) {
    const auto user = sign_up(api(), "memory@example.com");
    ASSERT_EQ(order(user, "big", "bxs-2-4").status, 202);

    const auto refused = order(user, "bigger", "bxs-2-4");
    EXPECT_EQ(refused.status, 403) << refused.raw;
    EXPECT_EQ(refused.body["error"]["code"], "limit_exceeded");
    EXPECT_EQ(refused.body["error"]["details"],
              json({{"quota", "memoryMb"}, {"limit", 6144}, {"used", 4096}, {"needed", 4096}}));
    EXPECT_EQ(instances_of(user.email), "1");

    // 4096 + 2048 is exactly the limit.
    EXPECT_EQ(order(user, "small", "bxs-1").status, 202);
    EXPECT_EQ(quota(user, "memoryMb"), std::make_pair(std::int64_t{6144}, std::int64_t{6144}));
}

TEST_F(account_limits, requests_are_listed_newest_first_with_one_pending_per_quota) {
    const auto user = sign_up(api(), "asker@example.com");
    const auto other = sign_up(api(), "asker-other@example.com");
    EXPECT_EQ(api().get("/api/v1/account/limit-requests").status, 401);

    auto r = ask(user, {{"quotaKey", "instances"}, {"requested", 25}, {"useCase", k_use_case}});
    ASSERT_EQ(r.status, 201) << r.raw;
    const std::string uid = r.body["uid"];
    EXPECT_TRUE(std::regex_match(uid, std::regex("req_[A-Za-z0-9_-]{12}"))) << uid;
    EXPECT_TRUE(std::regex_match(r.body["createdAt"].get<std::string>(),
                                 std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
        << r.raw;
    EXPECT_EQ(r.body, json({{"uid", uid},
                            {"quotaKey", "instances"},
                            {"requested", 25},
                            {"useCase", k_use_case},
                            {"status", "pending"},
                            {"createdAt", r.body["createdAt"]}}));

    r = ask(user, {{"quotaKey", "instances"}, {"requested", 30}, {"useCase", k_use_case}});
    EXPECT_EQ(r.status, 409) << r.raw;
    EXPECT_EQ(r.body["error"]["code"], "limit_request_pending");
    EXPECT_NE(r.body["error"]["message"].get<std::string>().find(uid), std::string::npos);

    r = ask(user, {{"quotaKey", "memoryMb"}, {"requested", 16384}, {"useCase", k_use_case}});
    ASSERT_EQ(r.status, 201) << r.raw;

    const auto listed = api().get("/api/v1/account/limit-requests", user.access_token);
    ASSERT_EQ(listed.status, 200) << listed.raw;
    ASSERT_EQ(listed.body.size(), 2u) << listed.raw;
    EXPECT_EQ(listed.body[0]["quotaKey"], "memoryMb");
    EXPECT_EQ(listed.body[1]["uid"], uid);
    EXPECT_EQ(listed.body[1]["status"], "pending");
    EXPECT_EQ(api().get("/api/v1/account/limit-requests", other.access_token).body, json::array());
    EXPECT_EQ(query("SELECT count(*) FROM audit_log WHERE action = 'limit_request.create' "
                    "AND target_id = '" +
                    uid + "'"),
              "1");
}

TEST_F(account_limits, bad_requests_are_refused_with_the_field_named_and_nothing_written) {
    const auto user = sign_up(api(), "bad-asker@example.com");
    const json good = {{"quotaKey", "instances"}, {"requested", 25}, {"useCase", k_use_case}};
    const auto with = [&](const std::string& field, const json& value) {
        json body = good;
        if (value.is_null())
            body.erase(field);
        else
            body[field] = value;
        return body;
    };
    for (const auto& [body, field] : std::vector<std::pair<json, std::string>>{
             {with("quotaKey", "cpus"), "quotaKey"},
             {with("quotaKey", nullptr), "quotaKey"},
             {with("quotaKey", 3), "quotaKey"},
             {with("requested", 0), "requested"},
             {with("requested", -5), "requested"},
             {with("requested", 2.5), "requested"},
             {with("requested", "25"), "requested"},
             {with("requested", nullptr), "requested"},
             {with("requested", 1'000'000'001), "requested"},
             {with("requested", 18446744073709551615ULL), "requested"},
             // Not above the current limit of 2.
             {with("requested", 2), "requested"},
             {with("useCase", "too short"), "useCase"},
             {with("useCase", std::string(513, 'x')), "useCase"},
             {with("useCase", nullptr), "useCase"}}) {
        const auto r = ask(user, body);
        EXPECT_EQ(r.status, 400) << body.dump() << " -> " << r.raw;
        EXPECT_EQ(r.body["error"]["code"], "invalid_request") << r.raw;
        EXPECT_EQ(r.body["error"]["details"]["field"], field) << body.dump() << " -> " << r.raw;
    }
    const auto not_above = ask(user, with("requested", 2));
    EXPECT_NE(not_above.body["error"]["message"].get<std::string>().find("limit of 2"),
              std::string::npos)
        << not_above.raw;
    EXPECT_EQ(query("SELECT count(*) FROM limit_requests WHERE user_id = " + user_id(user.email)),
              "0");

    // Lengths are counted in characters: ten letters of Danish are ten, not twenty bytes' worth.
    const auto danish = ask(user, with("useCase", "æøåæøåæøåæ"));
    EXPECT_EQ(danish.status, 201) << danish.raw;
}

TEST_F(account_limits, an_approval_raises_the_limit_and_a_denial_does_not) {
    const auto user = sign_up(api(), "grantee@example.com");
    const auto id_of = [&](const std::string& quota_key) {
        const auto r = ask(user, {{"quotaKey", quota_key},
                                  {"requested", quota_key == "instances" ? 5 : 20000},
                                  {"useCase", k_use_case}});
        EXPECT_EQ(r.status, 201) << r.raw;
        return query("SELECT id FROM limit_requests WHERE uid = '" +
                     r.body["uid"].get<std::string>() + "'");
    };
    const auto instances_request = id_of("instances");
    const auto memory_request = id_of("memoryMb");
    const std::string mine = "?user_id=" + user_id(user.email);

    auto r = admin("GET", "/limit_requests" + mine + "&status=pending", nullptr, *viewer_);
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["total"], 2);
    ASSERT_EQ(r.body["data"].size(), 2u);
    const json& listed = r.body["data"][1];
    EXPECT_EQ(listed["id"], std::stoll(instances_request));
    EXPECT_EQ(listed["quota_key"], "instances");
    EXPECT_EQ(listed["requested"], 5);
    EXPECT_EQ(listed["current_limit"], 2);
    EXPECT_EQ(listed["use_case"], k_use_case);
    EXPECT_EQ(listed["status"], "pending");
    EXPECT_TRUE(listed["decided"].is_null());
    EXPECT_EQ(admin("GET", "/limit_requests?status=open").status, 400);

    // Reading is users::view; deciding is users::update, which read_only lacks.
    r = admin("POST", "/limit_requests/" + instances_request + "/approve", nullptr, *viewer_);
    EXPECT_EQ(r.status, 403) << r.raw;
    EXPECT_EQ(quota(user, "instances").second, 2);

    r = admin("POST", "/limit_requests/" + instances_request + "/approve",
              {{"note", "CI fleet, fine"}});
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["data"]["status"], "approved");
    EXPECT_EQ(r.body["data"]["current_limit"], 5);
    EXPECT_EQ(r.body["data"]["note"], "CI fleet, fine");
    EXPECT_EQ(r.body["data"]["decided_by"], std::stoll(user_id("limits-boss@example.com")));
    EXPECT_TRUE(r.body["data"]["decided"].is_string());
    EXPECT_EQ(quota(user, "instances").second, 5);

    r = admin("POST", "/limit_requests/" + memory_request + "/deny");
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["data"]["status"], "denied");
    EXPECT_EQ(quota(user, "memoryMb").second, 6144);

    EXPECT_EQ(admin("POST", "/limit_requests/" + memory_request + "/approve").status, 409);
    EXPECT_EQ(quota(user, "memoryMb").second, 6144);
    EXPECT_EQ(admin("POST", "/limit_requests/999999/approve").status, 404);
    EXPECT_EQ(admin("GET", "/limit_requests/" + memory_request).body["data"]["status"], "denied");
    EXPECT_EQ(admin("GET", "/limit_requests" + mine + "&status=approved").body["total"], 1);
    EXPECT_EQ(admin("GET", "/limit_requests" + mine + "&status=pending").body["total"], 0);
    EXPECT_EQ(query("SELECT count(*) FROM audit_log WHERE target_type = 'limit_request' AND "
                    "action IN ('limit_request.approve', 'limit_request.deny')"),
              "2");

    const auto customer_view = api().get("/api/v1/account/limit-requests", user.access_token);
    EXPECT_EQ(customer_view.body[0]["status"], "denied") << customer_view.raw;
    EXPECT_EQ(customer_view.body[1]["status"], "approved") << customer_view.raw;

    // The raised limit is the one orders are held to: three instances now fit (3 x 2048 MiB).
    for (const auto* name : {"a", "b", "c"}) EXPECT_EQ(order(user, name, "bxs-1").status, 202);
    // A decided request no longer blocks a new one, which must be above the new limit.
    EXPECT_EQ(
        ask(user, {{"quotaKey", "instances"}, {"requested", 5}, {"useCase", k_use_case}}).status,
        400);
    EXPECT_EQ(
        ask(user, {{"quotaKey", "instances"}, {"requested", 8}, {"useCase", k_use_case}}).status,
        201);
}

TEST_F(account_limits, operators_do_not_decide_their_own_requests) {
    const auto r =
        api().post("/api/v1/account/limit-requests",
                   {{"quotaKey", "instances"}, {"requested", 50}, {"useCase", k_use_case}}, *boss_);
    ASSERT_EQ(r.status, 201) << r.raw;
    const auto id = query("SELECT id FROM limit_requests WHERE uid = '" +
                          r.body["uid"].get<std::string>() + "'");
    EXPECT_EQ(admin("POST", "/limit_requests/" + id + "/approve").status, 403);
    EXPECT_EQ(query("SELECT status FROM limit_requests WHERE id = " + id), "pending");
}
