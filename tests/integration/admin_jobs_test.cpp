// Work jobs in the admin API on a real coordinator: /jobs lists them filtered and paginated,
// /jobs/{id} shows one with its events, and /jobs/feedback is a WebSocket whose upgrade goes
// through the same auth and permission checks as every admin route, taking the credential from
// `?auth=` (an access token or a NIP-98 event) since browsers cannot set headers on it.
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/test_helpers.hpp"
#include "tests/support/nostr_signer.hpp"
#include "tests/support/throwaway_postgres.hpp"
#include "tests/support/ws_test_client.hpp"

#include "coordinator/jobs/job_store.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <cctype>
#include <cstdio>
#include <ctime>

using namespace vpsfleet::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

// Kinds no worker handles stay pending, so the listing is stable.
std::string enqueue(const std::string& db, const std::string& kind, const std::string& target) {
    pqxx::connection conn(db);
    pqxx::work tx(conn);
    const auto job =
        vpsfleet::jobs::enqueue(tx, {.kind = kind, .args = {{"n", 1}}, .target = target});
    tx.commit();
    return job->uid;
}

// Base64 in a query string, as a client must send it ('+', '/' and '=' escaped).
std::string url_encoded(const std::string& text) {
    std::string out;
    for (const char c : text) {
        if (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.') {
            out += c;
        } else {
            char hex[4];
            std::snprintf(hex, sizeof hex, "%%%02X", static_cast<unsigned char>(c));
            out += hex;
        }
    }
    return out;
}

std::string feedback_path(const std::string& query) {
    return "/api/admin/v1/jobs/feedback?" + query;
}

}  // namespace

TEST(admin_jobs, lists_and_shows_jobs_with_filters_pagination_and_permissions) {
    admin_world w;
    const auto a1 = enqueue(w.db, "test.alpha", "ins_a");
    const auto a2 = enqueue(w.db, "test.alpha", "ins_b");
    const auto b1 = enqueue(w.db, "test.beta", "ins_a");

    auto r = w.call("GET", "/jobs?kind=test.alpha");
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["total"], 2);
    ASSERT_EQ(r.body["data"].size(), 2u);
    EXPECT_EQ(r.body["data"][0]["id"], a2) << "newest first";
    EXPECT_EQ(r.body["data"][0]["job_type"], "test.alpha");
    EXPECT_EQ(r.body["data"][0]["state"], "pending");
    EXPECT_EQ(r.body["data"][0]["target"], "ins_b");
    EXPECT_TRUE(r.body["data"][0]["started"].is_null());
    EXPECT_EQ(w.call("GET", "/jobs?target=ins_a&kind=test.beta").body["data"][0]["id"], b1);

    r = w.call("GET", "/jobs?state=pending&target=ins_a&limit=1&offset=1");
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["total"], 2);
    EXPECT_EQ(r.body["limit"], 1);
    EXPECT_EQ(r.body["offset"], 1);
    ASSERT_EQ(r.body["data"].size(), 1u);
    EXPECT_EQ(r.body["data"][0]["id"], a1);

    r = w.call("GET", "/jobs/" + a1, nullptr, w.viewer);
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["data"]["id"], a1);
    EXPECT_EQ(r.body["data"]["kind"], "test.alpha");
    ASSERT_EQ(r.body["data"]["events"].size(), 1u) << r.raw;
    EXPECT_EQ(r.body["data"]["events"][0]["type"], "queued");
    EXPECT_EQ(r.body["data"]["events"][0]["seq"], 1);

    r = w.call("GET", "/jobs/job_missing");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.body["error"], "Job not found");
    r = w.call("GET", "/jobs?state=stuck");
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body["error"].get<std::string>().find("state must be"), std::string::npos);
    EXPECT_EQ(w.call("GET", "/jobs?user_id=me").status, 400);
    EXPECT_EQ(w.api.get("/api/admin/v1/jobs").status, 401);

    exec_sql(w.db,
             "INSERT INTO roles (name, description, permissions) "
             "VALUES ('host_watch', 'hosts only', ARRAY['hosts::view'])");
    const auto watcher = sign_up(w.api, "watcher@example.com");
    grant_role(w.db, watcher.email, "host_watch");
    r = w.call("GET", "/jobs", nullptr, watcher.access_token);
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(r.body["error"], "missing permission: jobs::view");
}

TEST(admin_jobs, feedback_is_a_websocket_behind_the_admin_checks) {
    admin_world w;
    const auto job = enqueue(w.db, "test.alpha", "ins_a");
    const auto port = w.coordinator.port;

    // A plain GET is told to upgrade.
    auto r = w.call("GET", "/jobs/feedback?job_id=" + job);
    EXPECT_EQ(r.status, 426) << r.raw;
    EXPECT_TRUE(r.body["error"].is_string()) << r.raw;

    ws_test_client anonymous;
    const auto refused = anonymous.connect_plain(port, feedback_path("job_id=" + job));
    EXPECT_EQ(refused.substr(0, 11), "status 401:") << refused;
    EXPECT_NE(refused.find("\"error\""), std::string::npos) << refused;

    const auto customer = sign_up(w.api, "customer@example.com");
    ws_test_client not_operator;
    EXPECT_EQ(not_operator.connect_plain(port, feedback_path("auth=" + customer.access_token))
                  .substr(0, 10),
              "status 403");
    ws_test_client unknown_job;
    EXPECT_EQ(unknown_job.connect_plain(port, feedback_path("auth=" + w.boss + "&job_id=job_nope"))
                  .substr(0, 10),
              "status 404");

    ws_test_client client;
    ASSERT_EQ(client.connect_plain(port, feedback_path("job_id=" + job + "&auth=" + w.viewer)), "");
    auto message = client.receive(5s);
    ASSERT_TRUE(message);
    EXPECT_EQ(
        json::parse(*message),
        (json{{"type", "connected"}, {"message", "Connected to job " + job + " feedback stream"}}));
    ASSERT_TRUE(client.send(R"({"type":"ping"})"));
    message = client.receive(5s);
    ASSERT_TRUE(message);
    EXPECT_EQ(json::parse(*message), (json{{"type", "pong"}}));
    ASSERT_TRUE(client.send("hello"));
    message = client.receive(5s);
    ASSERT_TRUE(message);
    EXPECT_EQ(json::parse(*message)["type"], "error");
    // A pending job has said nothing LNVPS has a status for yet.
    EXPECT_FALSE(client.receive(300ms));
}

TEST(admin_jobs, feedback_takes_a_nip98_event_signed_for_the_url_without_auth) {
    const std::string k_public = "https://panel.example.com";
    const auto db = fresh_database();
    auto coordinator = start_coordinator(db, "api:\n  public_url: " + k_public + "/\n");
    ASSERT_EQ(wait_for_status("127.0.0.1", coordinator.port, "/readyz", 200, 20s).status, 200);
    const api_client api(coordinator.port);
    const auto ops = sign_up(api, "nostr-ops@example.com");
    grant_role(db, ops.email, "read_only");
    const nostr_signer key(12);
    exec_sql(db,
             "UPDATE users SET pubkey = '" + key.pubkey() + "' WHERE email = '" + ops.email + "'");

    const auto now = static_cast<std::int64_t>(std::time(nullptr));
    const auto event =
        key.sign(nostr_signer::http_event(k_public + "/api/admin/v1/jobs/feedback", "GET", now));
    ws_test_client client;
    ASSERT_EQ(
        client.connect_plain(coordinator.port,
                             feedback_path("auth=" + url_encoded(nostr_signer::base64(event)))),
        "");
    const auto message = client.receive(5s);
    ASSERT_TRUE(message);
    EXPECT_EQ(json::parse(*message)["message"], "Job feedback stream connected");

    // The same event again is a replay; one signed for another URL does not fit.
    ws_test_client replay;
    EXPECT_EQ(replay
                  .connect_plain(coordinator.port,
                                 feedback_path("auth=" + url_encoded(nostr_signer::base64(event))))
                  .substr(0, 10),
              "status 401");
    const auto elsewhere =
        key.sign(nostr_signer::http_event(k_public + "/api/admin/v1/jobs", "GET", now));
    ws_test_client wrong_url;
    EXPECT_EQ(
        wrong_url
            .connect_plain(coordinator.port,
                           feedback_path("auth=" + url_encoded(nostr_signer::base64(elsewhere))))
            .substr(0, 10),
        "status 401");
}
