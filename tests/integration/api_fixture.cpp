#include "tests/integration/api_fixture.hpp"

#include "tests/integration/test_helpers.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <regex>

namespace vpsfleet::testing {

using json = nlohmann::json;

std::string api_reply::header(const std::string& lower_name) const {
    const auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
}

api_reply api_client::call(const std::string& method, const std::string& target, const json& body,
                           http_headers headers) const {
    const auto reply = http_request("127.0.0.1", port_, method, target,
                                    body.is_null() ? std::string() : body.dump(),
                                    std::chrono::seconds(10), headers);
    api_reply out{reply.status, nullptr, reply.headers, reply.body};
    if (!reply.body.empty()) out.body = json::parse(reply.body, nullptr, false);
    if (out.body.is_discarded()) out.body = nullptr;
    return out;
}

api_reply api_client::get(const std::string& target, const std::string& token) const {
    return call("GET", target, nullptr, token.empty() ? http_headers{} : bearer(token));
}

api_reply api_client::post(const std::string& target, const json& body,
                           const std::string& token) const {
    return call("POST", target, body, token.empty() ? http_headers{} : bearer(token));
}

http_headers api_client::bearer(const std::string& token) {
    return {{"Authorization", "Bearer " + token}};
}

std::string verification_token(const std::string& database_url, const std::string& email) {
    pqxx::connection conn(database_url);
    pqxx::read_transaction tx(conn);
    const auto rows = tx.exec_params(
        "SELECT body FROM mail_outbox WHERE to_address = lower($1) AND "
        "subject = 'Confirm your email address' ORDER BY id DESC LIMIT 1",
        email);
    if (rows.empty()) return {};
    const std::string body = rows[0][0].as<std::string>();
    std::smatch m;
    if (!std::regex_search(body, m, std::regex("verify-email\\?token=([A-Za-z0-9_-]+)"))) return {};
    return m[1];
}

signed_up sign_up(const api_client& api, const std::string& email, const std::string& password) {
    const auto r = api.post("/api/v1/auth/signup",
                            {{"email", email}, {"password", password}, {"fullname", "Test User"}});
    EXPECT_EQ(r.status, 201) << r.raw;
    const std::string db = coordinator_database(api.port());
    EXPECT_FALSE(db.empty()) << "no coordinator of this test listens on port " << api.port();
    if (r.status == 201 && !db.empty()) {
        const auto verified =
            api.post("/api/v1/auth/verify-email", {{"token", verification_token(db, email)}});
        EXPECT_EQ(verified.status, 204) << verified.raw;
    }
    return {email, password, r.body.value("access_token", ""), r.body.value("refresh_token", "")};
}

void grant_role(const std::string& database_url, const std::string& email,
                const std::string& role) {
    pqxx::connection conn(database_url);
    pqxx::work tx(conn);
    tx.exec_params(
        "INSERT INTO user_roles (user_id, role_id) SELECT u.id, r.id FROM users u, roles r "
        "WHERE lower(u.email) = lower($1) AND r.name = $2",
        email, role);
    tx.commit();
}

std::string first_project(const api_client& api, const std::string& token) {
    const auto r = api.get("/api/v1/projects", token);
    EXPECT_EQ(r.status, 200) << r.raw;
    return r.body[0]["uid"];
}

json finished_job(const api_client& api, const std::string& project, const std::string& job,
                  const std::string& token) {
    json last;
    eventually([&] {
        const auto r = api.get("/api/v1/projects/" + project + "/jobs/" + job, token);
        if (r.status != 200) return false;
        last = r.body["job"];
        const auto status = last["status"].get<std::string>();
        return status == "succeeded" || status == "failed" || status == "cancelled";
    });
    return last;
}

void add_resize_plans(const std::string& database_url) {
    exec_sql(database_url,
             "INSERT INTO plans (uid, code, name, family, vcpu, memory_mb, disk_gb, network_mbps, "
             "price_monthly_ore, price_hourly_ore, sort, cost_plan_id) "
             "SELECT 'pln_bxs24s', 'bxs-2-4s', 'BXS 2-4 S', 'bxs', 2, 4096, 40, 10000, 8000, 11, "
             "21, cost_plan_id FROM plans WHERE code = 'bxs-2-4' UNION ALL "
             "SELECT 'pln_tiny', 'tiny', 'Tiny', 'bxs', 1, 512, 20, 1000, 1000, 1, 1, cost_plan_id "
             "FROM plans WHERE code = 'bxs-1'");
}

void coordinator_suite::start_suite(const std::string& config_extra) {
    db_url_ = new std::string(fresh_database());
    coordinator_ = new running_daemon(start_coordinator(*db_url_, config_extra));
    ASSERT_EQ(
        wait_for_status("127.0.0.1", coordinator_->port, "/readyz", 200, std::chrono::seconds(20))
            .status,
        200);
}

void coordinator_suite::TearDownTestSuite() {
    delete coordinator_;
    coordinator_ = nullptr;
    delete db_url_;
    db_url_ = nullptr;
}

std::string coordinator_suite::query(const std::string& sql) { return query_text(*db_url_, sql); }

void coordinator_suite::exec(const std::string& sql) { exec_sql(*db_url_, sql); }

json instance_order(const std::string& name, const std::string& plan, const std::string& image) {
    return {{"name", name}, {"plan", plan}, {"source", {{"image", image}}}};
}

admin_world::admin_world()
    : db(fresh_database()), coordinator(start_coordinator(db)), api(coordinator.port) {
    EXPECT_EQ(
        wait_for_status("127.0.0.1", coordinator.port, "/readyz", 200, std::chrono::seconds(20))
            .status,
        200);
    boss_account = sign_up(api, "boss@example.com");
    grant_role(db, boss_account.email, "super_admin");
    boss = boss_account.access_token;
    const auto v = sign_up(api, "viewer@example.com");
    grant_role(db, v.email, "read_only");
    viewer = v.access_token;
}

api_reply admin_world::call(const std::string& method, const std::string& path, const json& body,
                            const std::string& token) const {
    return api.call(method, "/api/admin/v1" + path, body,
                    api_client::bearer(token.empty() ? boss : token));
}

std::string admin_world::query(const std::string& sql) const { return query_text(db, sql); }

std::int64_t admin_world::user_id(const std::string& email) const {
    return std::stoll(query("SELECT id FROM users WHERE email = '" + email + "'"));
}

}  // namespace vpsfleet::testing
