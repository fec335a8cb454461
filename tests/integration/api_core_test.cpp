// The conventions both REST APIs share, exercised on a real coordinator process and PostgreSQL:
// error and page shapes, request ids, CORS, rate limits, idempotent POSTs, sign-in sessions with
// refresh rotation, MFA, password reset by mail, API key permissions, operator roles and the
// audit trail.
#include "coordinator/auth/totp.hpp"
#include "tests/integration/api_fixture.hpp"
#include "tests/support/smtp_sink.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <regex>

using namespace vpsfleet::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;
namespace totp = vpsfleet::auth::totp;

namespace {

class api_core : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        smtp_ = new smtp_sink();
        db_url_ = new std::string(fresh_database());
        coordinator_ = new running_daemon(start_coordinator(
            *db_url_,
            "api:\n  cors_origins: [https://panel.example.com]\n"
            "  public_url: https://panel.example.com\n"
            "mail:\n  smtp_url: " +
                smtp_->url() + "\n  from: noreply@example.com\n  poll_interval: 50ms\n"));
        ASSERT_EQ(wait_for_status("127.0.0.1", coordinator_->port, "/readyz", 200, 20s).status,
                  200);
    }
    static void TearDownTestSuite() {
        delete coordinator_;
        delete db_url_;
        delete smtp_;
    }

    api_client api() const { return api_client(coordinator_->port); }
    static std::string unique_email(const std::string& tag) {
        static int n = 0;
        return tag + std::to_string(++n) + "@Example.com";
    }
    static std::int64_t count(const std::string& sql) {
        pqxx::connection conn(*db_url_);
        pqxx::work tx(conn);
        return tx.exec1(sql)[0].as<std::int64_t>();
    }

    static inline smtp_sink* smtp_ = nullptr;
    static inline std::string* db_url_ = nullptr;
    static inline running_daemon* coordinator_ = nullptr;
};

std::string current_code(const std::string& base32_secret, int steps_ahead = 0) {
    const auto key = *totp::base32_decode(base32_secret);
    return totp::code_at_step(key, totp::step_at(std::chrono::system_clock::now()) + steps_ahead);
}

}  // namespace

TEST_F(api_core, unknown_routes_and_wrong_methods_answer_in_each_apis_error_shape) {
    const auto customer = api().get("/api/v1/nothing/here");
    EXPECT_EQ(customer.status, 404);
    EXPECT_EQ(customer.body["error"]["code"], "route_not_found");
    EXPECT_EQ(customer.body["error"]["request_id"], customer.header("x-request-id"));

    const auto admin = api().get("/api/admin/v1/nothing");
    EXPECT_EQ(admin.status, 404);
    EXPECT_EQ(admin.body, json({{"error", "route not found: GET /api/admin/v1/nothing"}}));
    // Unknown paths below real resources answer the same way.
    for (const std::string path : {"/companies/1/nothing", "/reports/nothing"}) {
        const auto later = api().get("/api/admin/v1" + path);
        EXPECT_EQ(later.status, 404) << path;
        EXPECT_TRUE(later.body["error"].is_string()) << later.raw;
    }

    const auto wrong_method = api().call("DELETE", "/api/v1/auth/login");
    EXPECT_EQ(wrong_method.status, 405);
    EXPECT_EQ(wrong_method.body["error"]["code"], "method_not_allowed");
    EXPECT_EQ(api().call("PUT", "/api/admin/v1/roles").status, 405);
}

TEST_F(api_core, bad_bodies_are_refused_with_the_field_and_nothing_is_written) {
    const auto before = count("SELECT count(*) FROM users");
    auto r =
        api().call("POST", "/api/v1/auth/signup", nullptr, {{"Content-Type", "application/json"}});
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.body["error"]["code"], "invalid_request");

    const auto not_json =
        http_request("127.0.0.1", coordinator_->port, "POST", "/api/v1/auth/signup", "{not json");
    EXPECT_EQ(not_json.status, 400);
    EXPECT_NE(not_json.body.find("not valid JSON"), std::string::npos);

    r = api().post("/api/v1/auth/signup",
                   {{"email", "short@example.com"}, {"password", "short"}, {"fullname", "x"}});
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.body["error"]["details"]["field"], "password");
    r = api().post("/api/v1/auth/signup",
                   {{"email", 42}, {"password", "long enough"}, {"fullname", "x"}});
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.body["error"]["details"]["field"], "email");
    EXPECT_EQ(count("SELECT count(*) FROM users"), before);
}

TEST_F(api_core, request_ids_are_echoed_when_sane_and_generated_otherwise) {
    auto r = api().call("GET", "/api/v1/me", nullptr, {{"X-Request-Id", "trace-abc.123"}});
    EXPECT_EQ(r.header("x-request-id"), "trace-abc.123");
    EXPECT_EQ(r.body["error"]["request_id"], "trace-abc.123");

    r = api().call("GET", "/api/v1/me", nullptr, {{"X-Request-Id", "has spaces; and more"}});
    EXPECT_TRUE(r.header("x-request-id").starts_with("req_")) << r.header("x-request-id");
    const auto a = api().get("/healthz").header("x-request-id");
    const auto b = api().get("/healthz").header("x-request-id");
    EXPECT_FALSE(a.empty());
    EXPECT_NE(a, b);
}

TEST_F(api_core, cors_allows_only_configured_origins) {
    auto r = api().call("GET", "/api/v1/me", nullptr, {{"Origin", "https://panel.example.com"}});
    EXPECT_EQ(r.header("access-control-allow-origin"), "https://panel.example.com");
    EXPECT_EQ(r.header("vary"), "Origin");

    r = api().call("GET", "/api/v1/me", nullptr, {{"Origin", "https://evil.example.net"}});
    EXPECT_EQ(r.header("access-control-allow-origin"), "");

    r = api().call(
        "OPTIONS", "/api/v1/projects", nullptr,
        {{"Origin", "https://panel.example.com"}, {"Access-Control-Request-Method", "POST"}});
    EXPECT_EQ(r.status, 204);
    EXPECT_NE(r.header("access-control-allow-methods").find("POST"), std::string::npos);
    EXPECT_NE(r.header("access-control-allow-headers").find("Idempotency-Key"), std::string::npos);
}

TEST_F(api_core, sign_up_sign_in_and_me) {
    const std::string email = unique_email("Ada");
    const auto user = sign_up(api(), email);
    ASSERT_FALSE(user.access_token.empty());

    const auto me = api().get("/api/v1/me", user.access_token);
    ASSERT_EQ(me.status, 200) << me.raw;
    EXPECT_EQ(me.body["email"], [&] {
        std::string lower = email;
        for (auto& c : lower) c = static_cast<char>(std::tolower(c));
        return lower;
    }());
    EXPECT_TRUE(me.body["uid"].get<std::string>().starts_with("usr_"));
    EXPECT_EQ(me.body["mfaEnabled"], false);

    const auto taken = api().post(
        "/api/v1/auth/signup",
        {{"email", "  " + email}, {"password", "another password"}, {"fullname", "Copy"}});
    EXPECT_EQ(taken.status, 400);  // an address with spaces is not an email
    const auto dup =
        api().post("/api/v1/auth/signup",
                   {{"email", email}, {"password", "another password"}, {"fullname", "Copy"}});
    EXPECT_EQ(dup.status, 409);
    EXPECT_EQ(dup.body["error"]["code"], "email_taken");

    auto login = api().post("/api/v1/auth/login", {{"email", email}, {"password", "wrong pass"}});
    EXPECT_EQ(login.status, 401);
    EXPECT_EQ(login.body["error"]["code"], "invalid_credentials");
    login = api().post("/api/v1/auth/login", {{"email", "nobody@example.com"}, {"password", "x"}});
    EXPECT_EQ(login.status, 401);
    login = api().post("/api/v1/auth/login", {{"email", email}, {"password", user.password}});
    EXPECT_EQ(login.status, 200);
    EXPECT_EQ(api().get("/api/v1/me", login.body["access_token"]).status, 200);

    EXPECT_EQ(api().get("/api/v1/me", "not-a-token").status, 401);
    EXPECT_EQ(api().get("/api/v1/me").status, 401);
    EXPECT_EQ(count("SELECT count(*) FROM refresh_tokens WHERE token_hash LIKE 'rt_%'"), 0)
        << "refresh tokens are stored hashed";
}

TEST_F(api_core, refresh_rotates_and_reuse_revokes_the_whole_session) {
    const auto user = sign_up(api(), unique_email("rot"));
    const auto first = api().post("/api/v1/auth/refresh", {{"refresh_token", user.refresh_token}});
    ASSERT_EQ(first.status, 200) << first.raw;
    const std::string second_refresh = first.body["refresh_token"];
    const std::string second_access = first.body["access_token"];
    EXPECT_NE(second_refresh, user.refresh_token);
    EXPECT_EQ(api().get("/api/v1/me", second_access).status, 200);

    // The first refresh token is replayed (stolen): the family dies, including the newest pair.
    const auto replay = api().post("/api/v1/auth/refresh", {{"refresh_token", user.refresh_token}});
    EXPECT_EQ(replay.status, 401);
    EXPECT_EQ(replay.body["error"]["code"], "invalid_refresh");
    EXPECT_EQ(api().post("/api/v1/auth/refresh", {{"refresh_token", second_refresh}}).status, 401);
    EXPECT_EQ(api().get("/api/v1/me", second_access).status, 401);

    const auto login =
        api().post("/api/v1/auth/login", {{"email", user.email}, {"password", user.password}});
    ASSERT_EQ(login.status, 200);
    EXPECT_EQ(
        api().post("/api/v1/auth/logout", {{"refresh_token", login.body["refresh_token"]}}).status,
        204);
    EXPECT_EQ(api().get("/api/v1/me", login.body["access_token"]).status, 401);
}

TEST_F(api_core, mfa_enrolment_sign_in_replay_and_recovery_codes) {
    const auto user = sign_up(api(), unique_email("mfa"));
    const auto enable = api().post("/api/v1/account/mfa/enable", json::object(), user.access_token);
    ASSERT_EQ(enable.status, 200) << enable.raw;
    const std::string secret = enable.body["secret"];
    EXPECT_NE(enable.body["otpauthUrl"].get<std::string>().find("secret=" + secret),
              std::string::npos);

    EXPECT_EQ(
        api().post("/api/v1/account/mfa/confirm", {{"code", "12345"}}, user.access_token).status,
        400);
    const auto confirm = api().post("/api/v1/account/mfa/confirm", {{"code", current_code(secret)}},
                                    user.access_token);
    ASSERT_EQ(confirm.status, 200) << confirm.raw;
    const auto recovery = confirm.body["recoveryCodes"];
    ASSERT_EQ(recovery.size(), 10u);
    EXPECT_EQ(api().post("/api/v1/account/mfa/enable", json::object(), user.access_token).status,
              409);

    const json credentials{{"email", user.email}, {"password", user.password}};
    auto step1 = api().post("/api/v1/auth/login", credentials);
    EXPECT_EQ(step1.status, 200);
    EXPECT_EQ(step1.body, json({{"mfa_required", true}}));

    json with_code = credentials;
    with_code["code"] = "000000";
    if (current_code(secret) == "000000") with_code["code"] = "111111";
    EXPECT_EQ(api().post("/api/v1/auth/login", with_code).body["error"]["code"],
              "invalid_mfa_code");

    // The code confirmed enrolment in this step, so the next step's code is the one to use.
    with_code["code"] = current_code(secret, 1);
    const auto ok = api().post("/api/v1/auth/login", with_code);
    EXPECT_EQ(ok.status, 200) << ok.raw;
    EXPECT_EQ(api().post("/api/v1/auth/login", with_code).status, 401) << "a code works once";

    json with_recovery = credentials;
    with_recovery["code"] = recovery[3];
    EXPECT_EQ(api().post("/api/v1/auth/login", with_recovery).status, 200);
    EXPECT_EQ(api().post("/api/v1/auth/login", with_recovery).status, 401);
    EXPECT_EQ(count("SELECT count(*) FROM users WHERE mfa_secret IS NOT NULL AND "
                    "position(convert_to('" +
                    secret + "', 'UTF8') in mfa_secret) > 0"),
              0)
        << "the TOTP secret is stored sealed";
}

TEST_F(api_core, password_reset_by_mail_is_single_use) {
    const auto user = sign_up(api(), unique_email("reset"));
    // Sign-ups mail too (the verification link), at their own pace: count reset mails only.
    const auto reset_mails = [] {
        std::vector<smtp_message> out;
        for (auto& m : smtp_->messages()) {
            if (m.header("Subject") == "Reset your password") out.push_back(std::move(m));
        }
        return out;
    };
    const auto before = reset_mails().size();
    EXPECT_EQ(api().post("/api/v1/auth/password/forgot", {{"email", "nobody@example.com"}}).status,
              204);
    EXPECT_EQ(api().post("/api/v1/auth/password/forgot", {{"email", user.email}}).status, 204);
    for (int i = 0; i < 200 && reset_mails().size() <= before; ++i) {
        std::this_thread::sleep_for(50ms);
    }
    std::this_thread::sleep_for(300ms);
    const auto messages = reset_mails();
    ASSERT_EQ(messages.size(), before + 1) << "no mail for an unknown address";
    const auto& mail = messages.back();
    std::smatch m;
    const std::string body = mail.body();
    ASSERT_TRUE(std::regex_search(body, m, std::regex("token=([0-9a-f]{64})"))) << body;
    const std::string token = m[1];
    EXPECT_NE(body.find("https://panel.example.com/reset-password?token="), std::string::npos);

    const auto reset = api().post("/api/v1/auth/password/reset",
                                  {{"token", token}, {"password", "a brand new password"}});
    EXPECT_EQ(reset.status, 204) << reset.raw;
    const auto again = api().post("/api/v1/auth/password/reset",
                                  {{"token", token}, {"password", "yet another password"}});
    EXPECT_EQ(again.status, 400);
    EXPECT_EQ(again.body["error"]["code"], "invalid_token");

    EXPECT_EQ(api()
                  .post("/api/v1/auth/login", {{"email", user.email}, {"password", user.password}})
                  .status,
              401);
    EXPECT_EQ(api()
                  .post("/api/v1/auth/login",
                        {{"email", user.email}, {"password", "a brand new password"}})
                  .status,
              200);
    EXPECT_EQ(api().get("/api/v1/me", user.access_token).status, 401)
        << "a reset signs every session out";
}

TEST_F(api_core, api_keys_are_shown_once_and_limited_to_their_bits_and_project) {
    const auto owner = sign_up(api(), unique_email("keys"));
    const auto projects = api().get("/api/v1/projects", owner.access_token);
    ASSERT_EQ(projects.status, 200);
    ASSERT_EQ(projects.body.size(), 1u);
    const std::string project = projects.body[0]["uid"];
    const auto other = api().post("/api/v1/projects", {{"name", "Other"}}, owner.access_token);
    ASSERT_EQ(other.status, 201) << other.raw;

    const auto created = api().post("/api/v1/projects/" + project + "/api-keys",
                                    {{"name", "ci read"}, {"permissions", 64}},  // READ_API
                                    owner.access_token);
    ASSERT_EQ(created.status, 201) << created.raw;
    const std::string secret = created.body["secret"];
    EXPECT_TRUE(secret.starts_with("sk_proj_"));
    EXPECT_EQ(created.body["prefix"], secret.substr(0, 20));
    EXPECT_EQ(count("SELECT count(*) FROM api_keys WHERE secret_hash = '" + secret + "'"), 0);

    const auto listed = api().get("/api/v1/projects/" + project + "/api-keys", secret);
    ASSERT_EQ(listed.status, 200) << listed.raw;
    EXPECT_FALSE(listed.body[0].contains("secret"));
    EXPECT_EQ(listed.body[0]["permissions"], 64);

    const auto denied =
        api().post("/api/v1/projects/" + project + "/api-keys", {{"name", "escalate"}}, secret);
    EXPECT_EQ(denied.status, 403);
    EXPECT_NE(denied.body["error"]["message"].get<std::string>().find("WRITE_API"),
              std::string::npos);
    const auto elsewhere =
        api().get("/api/v1/projects/" + other.body["uid"].get<std::string>() + "/api-keys", secret);
    EXPECT_EQ(elsewhere.status, 403);
    EXPECT_EQ(api().get("/api/admin/v1/roles", secret).status, 403) << "keys never reach admin";

    EXPECT_EQ(count("SELECT count(*) FROM api_keys WHERE last_used_at IS NOT NULL"), 1);
    const auto revoked = api().call(
        "DELETE",
        "/api/v1/projects/" + project + "/api-keys/" + created.body["uid"].get<std::string>(),
        nullptr, api_client::bearer(owner.access_token));
    EXPECT_EQ(revoked.status, 204);
    EXPECT_EQ(api().get("/api/v1/projects/" + project + "/api-keys", secret).status, 401);
}

TEST_F(api_core, idempotent_posts_replay_and_refuse_a_different_body) {
    const auto user = sign_up(api(), unique_email("idem"));
    auto headers = api_client::bearer(user.access_token);
    headers["Idempotency-Key"] = "create-staging-1";
    const auto first = api().call("POST", "/api/v1/projects", {{"name", "Staging"}}, headers);
    ASSERT_EQ(first.status, 201) << first.raw;
    const auto second = api().call("POST", "/api/v1/projects", {{"name", "Staging"}}, headers);
    EXPECT_EQ(second.status, 201);
    EXPECT_EQ(second.body["uid"], first.body["uid"]);
    EXPECT_EQ(second.header("idempotent-replayed"), "true");
    EXPECT_EQ(count("SELECT count(*) FROM projects WHERE name = 'Staging'"), 1);

    const auto other = api().call("POST", "/api/v1/projects", {{"name", "Prod"}}, headers);
    EXPECT_EQ(other.status, 422);
    EXPECT_EQ(other.body["error"]["code"], "idempotency_key_reused");

    // A refused request does not hold its key: the corrected retry runs.
    headers["Idempotency-Key"] = "create-2";
    EXPECT_EQ(api().call("POST", "/api/v1/projects", {{"name", ""}}, headers).status, 400);
    EXPECT_EQ(api().call("POST", "/api/v1/projects", {{"name", "Fixed"}}, headers).status, 201);
}

TEST_F(api_core, operator_roles_gate_the_admin_api_and_changes_are_audited) {
    const auto customer = sign_up(api(), unique_email("cust"));
    auto r = api().get("/api/admin/v1/roles", customer.access_token);
    EXPECT_EQ(r.status, 403);
    EXPECT_TRUE(r.body["error"].is_string());
    EXPECT_EQ(api().get("/api/admin/v1/roles").status, 401);

    const auto viewer = sign_up(api(), unique_email("viewer"));
    grant_role(*db_url_, viewer.email, "read_only");
    r = api().get("/api/admin/v1/roles?limit=2", viewer.access_token);
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["limit"], 2);
    EXPECT_EQ(r.body["offset"], 0);
    EXPECT_EQ(r.body["total"], 3);
    EXPECT_EQ(r.body["data"].size(), 2u);
    r = api().post("/api/admin/v1/roles", {{"name", "support"}}, viewer.access_token);
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(r.body, json({{"error", "missing permission: roles::create"}}));

    const auto boss = sign_up(api(), unique_email("boss"));
    grant_role(*db_url_, boss.email, "super_admin");
    r = api().post("/api/admin/v1/roles",
                   {{"name", "support"}, {"permissions", {"users::view", "virtual_machines::*"}}},
                   boss.access_token);
    ASSERT_EQ(r.status, 201) << r.raw;
    const auto role_id = r.body["data"]["id"].get<std::int64_t>();
    EXPECT_EQ(r.body["data"]["is_system_role"], false);
    EXPECT_EQ(api()
                  .post("/api/admin/v1/roles", {{"name", "bad"}, {"permissions", {"nocolons"}}},
                        boss.access_token)
                  .status,
              400);

    const auto customer_id =
        count("SELECT id FROM users WHERE email = lower('" + customer.email + "')");
    r = api().post("/api/admin/v1/users/" + std::to_string(customer_id) + "/roles",
                   {{"role_id", role_id}}, boss.access_token);
    EXPECT_EQ(r.status, 200) << r.raw;
    const auto mine = api().get("/api/admin/v1/me/roles", customer.access_token);
    ASSERT_EQ(mine.status, 200) << mine.raw;
    EXPECT_EQ(mine.body["data"][0]["role"]["name"], "support");
    EXPECT_EQ(mine.body["data"][0]["is_active"], true);
    EXPECT_EQ(api().get("/api/admin/v1/roles", customer.access_token).status, 403)
        << "support holds users::view, not roles::view";

    EXPECT_EQ(
        api()
            .call("DELETE", "/api/admin/v1/roles/1", nullptr, api_client::bearer(boss.access_token))
            .status,
        403)
        << "system roles stay";
    EXPECT_EQ(api().get("/api/admin/v1/roles/abc", boss.access_token).body,
              json({{"error", "id must be a positive integer"}}));
    EXPECT_EQ(count("SELECT count(*) FROM audit_log WHERE action = 'role.create' AND "
                    "target_id = '" +
                    std::to_string(role_id) +
                    "' AND actor_kind = 'user' AND "
                    "after->>'name' = 'support'"),
              1);
    EXPECT_EQ(count("SELECT count(*) FROM audit_log WHERE action = 'user.role_assign' AND "
                    "target_id = '" +
                    std::to_string(customer_id) + "'"),
              1);
}

TEST(api_rate_limit, callers_get_their_own_window_and_429_with_retry_after) {
    auto d = start_coordinator(fresh_database(),
                               "api:\n  rate_limit:\n    window: 60s\n    anonymous: 3\n"
                               "    user: 5\n");
    ASSERT_EQ(wait_for_status("127.0.0.1", d.port, "/readyz", 200, 20s).status, 200);
    api_client api(d.port);
    std::vector<int> remaining;
    for (int i = 0; i < 3; ++i) {
        const auto r = api.get("/api/v1/plans-not-yet");
        EXPECT_EQ(r.header("x-ratelimit-limit"), "3");
        remaining.push_back(std::stoi(r.header("x-ratelimit-remaining")));
    }
    EXPECT_EQ(remaining, (std::vector<int>{2, 1, 0}));
    const auto refused = api.get("/api/v1/plans-not-yet");
    EXPECT_EQ(refused.status, 429);
    EXPECT_EQ(refused.body["error"]["code"], "rate_limited");
    const int retry_after = std::stoi(refused.header("retry-after"));
    EXPECT_GE(retry_after, 1);
    EXPECT_LE(retry_after, 60);
    const auto reset = std::stoll(refused.header("x-ratelimit-reset"));
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    EXPECT_GE(reset, now);
    EXPECT_LE(reset, now + 61);
    // Health checks are not API calls and are never limited.
    EXPECT_EQ(api.get("/healthz").status, 200);
}

TEST(api_database_restart, requests_fail_cleanly_while_postgres_is_down_and_recover) {
    throwaway_postgres pg;
    const auto url = pg.create_database("api_restart");
    auto d = start_coordinator(url);
    ASSERT_EQ(wait_for_status("127.0.0.1", d.port, "/readyz", 200, 20s).status, 200);
    api_client api(d.port);
    const auto user = sign_up(api, "restart@example.com");
    ASSERT_EQ(api.get("/api/v1/me", user.access_token).status, 200);

    pg.stop();
    const auto down = api.get("/api/v1/me", user.access_token);
    EXPECT_EQ(down.status, 503) << down.raw;
    EXPECT_EQ(down.body["error"]["code"], "service_unavailable");

    pg.start();
    api_reply up;
    for (int i = 0; i < 100 && up.status != 200; ++i) {
        up = api.get("/api/v1/me", user.access_token);
        if (up.status != 200) std::this_thread::sleep_for(100ms);
    }
    EXPECT_EQ(up.status, 200) << up.raw;
    EXPECT_FALSE(d.process->wait_exit(0ms)) << "the coordinator kept running";
}
