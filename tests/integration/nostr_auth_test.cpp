// NIP-98 on the admin API of a real coordinator: an operator whose account carries a Nostr pubkey
// signs each request; the coordinator checks the event against api.public_url + the target, the
// method and the body, accepts each event once, and answers 401 in the admin shape otherwise.
#include "tests/integration/api_fixture.hpp"
#include "tests/support/nostr_signer.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <ctime>

using namespace vpsfleet::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

const std::string k_public = "https://panel.example.com";

void set_pubkey(const std::string& db, const std::string& email, const std::string& pubkey) {
    pqxx::connection conn(db);
    pqxx::work tx(conn);
    tx.exec_params("UPDATE users SET pubkey = $2 WHERE email = $1", email, pubkey);
    tx.commit();
}

std::int64_t now() { return static_cast<std::int64_t>(std::time(nullptr)); }

}  // namespace

TEST(nostr_auth, an_operator_signs_admin_requests_and_each_event_works_once) {
    const auto db = fresh_database();
    auto coordinator = start_coordinator(db, "api:\n  public_url: " + k_public + "/\n");
    ASSERT_EQ(wait_for_status("127.0.0.1", coordinator.port, "/readyz", 200, 20s).status, 200);
    const api_client api(coordinator.port);
    const auto operator_account = sign_up(api, "nostr-ops@example.com");
    grant_role(db, operator_account.email, "super_admin");
    const nostr_signer key(11);
    set_pubkey(db, operator_account.email, key.pubkey());

    const auto nostr = [](const json& event) {
        return http_headers{{"Authorization", "Nostr " + nostr_signer::base64(event)}};
    };
    const std::string list = "/api/admin/v1/regions?limit=5";
    const auto get_event = key.sign(nostr_signer::http_event(k_public + list, "GET", now()));
    auto r = api.call("GET", list, nullptr, nostr(get_event));
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["limit"], 5);

    // The same event again is a replay.
    r = api.call("GET", list, nullptr, nostr(get_event));
    EXPECT_EQ(r.status, 401) << r.raw;
    EXPECT_NE(r.body["error"].get<std::string>().find("used before"), std::string::npos);

    // A POST carries its body's hash; the signed body creates the region, another body does not.
    const std::string body = R"({"name":"nostr-west"})";
    const auto post_event =
        key.sign(nostr_signer::http_event(k_public + "/api/admin/v1/regions", "POST", now(), body));
    r = api.call("POST", "/api/admin/v1/regions", json::parse(R"({"name":"evil"})"),
                 nostr(post_event));
    EXPECT_EQ(r.status, 401) << r.raw;
    r = api.call("POST", "/api/admin/v1/regions", json::parse(body),
                 nostr(key.sign(nostr_signer::http_event(k_public + "/api/admin/v1/regions", "POST",
                                                         now(), body))));
    EXPECT_EQ(r.status, 201) << r.raw;
    EXPECT_EQ(r.body["data"]["name"], "nostr-west");

    // Signed for another URL, too old, or by a key no account has: refused.
    r = api.call("GET", list, nullptr,
                 nostr(key.sign(nostr_signer::http_event("https://elsewhere.example.com" + list,
                                                         "GET", now()))));
    EXPECT_EQ(r.status, 401) << r.raw;
    r = api.call("GET", list, nullptr,
                 nostr(key.sign(nostr_signer::http_event(k_public + list, "GET", now() - 120))));
    EXPECT_EQ(r.status, 401) << r.raw;
    const nostr_signer stranger(12);
    r = api.call("GET", list, nullptr,
                 nostr(stranger.sign(nostr_signer::http_event(k_public + list, "GET", now()))));
    EXPECT_EQ(r.status, 401) << r.raw;
    EXPECT_NE(r.raw.find("No account has this Nostr pubkey"), std::string::npos) << r.raw;
    pqxx::connection conn(db);
    pqxx::read_transaction tx(conn);
    EXPECT_EQ(tx.exec1("SELECT count(*) FROM regions WHERE name = 'evil'")[0].as<int>(), 0);
}
