// Promo codes: an operator creates them in the admin API, customers redeem them with Suble's
// POST /billing/promo into their credits ledger: once per account, within the code's cap (also
// when many redeem at once), while it is active and unexpired; each refusal in the document's
// codes, with nothing written.
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/test_helpers.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

using namespace vpsfleet::testing;
using json = nlohmann::json;

TEST(promo_codes, customers_redeem_them_once_within_cap_expiry_and_active_flag) {
    admin_world w;
    auto r = w.call("POST", "/promo_codes",
                    {{"code", "welcome50"},
                     {"amount", 5000},
                     {"max_redemptions", 2},
                     {"description", "Launch week"}});
    ASSERT_EQ(r.status, 201) << r.raw;
    EXPECT_EQ(r.body["data"]["code"], "WELCOME50");
    EXPECT_EQ(r.body["data"]["currency"], "DKK");
    EXPECT_EQ(r.body["data"]["redemptions"], 0);
    const auto welcome = r.body["data"]["id"].dump();
    EXPECT_EQ(w.call("POST", "/promo_codes", {{"code", "WELCOME50"}, {"amount", 1}}).status, 409);
    EXPECT_EQ(w.call("POST", "/promo_codes", {{"code", "bad code"}, {"amount", 1}}).status, 400);
    EXPECT_EQ(w.call("POST", "/promo_codes", {{"code", "ZERO"}, {"amount", 0}}).status, 400);
    EXPECT_EQ(w.call("POST", "/promo_codes", {{"code", "X"}, {"amount", 1}}, w.viewer).status, 403);

    const auto redeem = [&](const signed_up& who, const std::string& code) {
        return w.api.post("/api/v1/billing/promo", {{"code", code}}, who.access_token);
    };
    const auto alice = sign_up(w.api, "alice@example.com");
    const auto bob = sign_up(w.api, "bob@example.com");
    const auto carol = sign_up(w.api, "carol@example.com");

    r = redeem(alice, "  welcome50 ");
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body, json({{"creditedOre", 5000}, {"balanceAfterOre", 5000}}));
    const auto ledger = w.api.get("/api/v1/billing/credits", alice.access_token);
    EXPECT_EQ(ledger.body["balanceOre"], 5000) << ledger.raw;
    EXPECT_EQ(ledger.body["ledger"][0]["type"], "promo") << ledger.raw;

    const auto refused = [&](const api_reply& reply, int status, const std::string& code) {
        EXPECT_EQ(reply.status, status) << reply.raw;
        EXPECT_EQ(reply.body["error"]["code"], code) << reply.raw;
    };
    refused(redeem(alice, "WELCOME50"), 409, "promo_already_used");
    refused(redeem(alice, "NOPE"), 404, "promo_not_found");
    refused(redeem(alice, "no spaces inside"), 400, "invalid_request");
    ASSERT_EQ(redeem(bob, "WELCOME50").status, 200);
    refused(redeem(carol, "WELCOME50"), 400, "promo_inactive");  // used up

    ASSERT_EQ(w.call("POST", "/promo_codes", {{"code", "PAUSED"}, {"amount", 100}}).status, 201);
    const auto paused = w.query("SELECT id FROM promo_codes WHERE code = 'PAUSED'");
    ASSERT_EQ(w.call("PATCH", "/promo_codes/" + paused, {{"active", false}}).status, 200);
    refused(redeem(carol, "PAUSED"), 400, "promo_inactive");
    ASSERT_EQ(w.call("POST", "/promo_codes",
                     {{"code", "OLD"}, {"amount", 100}, {"expires", "2020-01-01T00:00:00Z"}})
                  .status,
              201);
    refused(redeem(carol, "OLD"), 400, "promo_inactive");
    EXPECT_EQ(w.query("SELECT count(*) FROM credit_entries WHERE user_id = (SELECT id FROM users "
                      "WHERE email = 'carol@example.com')"),
              "0");

    r = w.call("GET", "/promo_codes/" + welcome);
    EXPECT_EQ(r.body["data"]["redemptions"], 2);
    EXPECT_EQ(w.call("PATCH", "/promo_codes/" + welcome, {{"max_redemptions", 1}}).status, 400);

    // Twelve customers at once on a code for five: exactly five get the credit.
    ASSERT_EQ(
        w.call("POST", "/promo_codes", {{"code", "RUSH"}, {"amount", 700}, {"max_redemptions", 5}})
            .status,
        201);
    std::vector<signed_up> crowd;
    for (int i = 0; i < 12; ++i)
        crowd.push_back(sign_up(w.api, "rush" + std::to_string(i) + "@example.com"));
    std::atomic<int> ok{0};
    std::atomic<int> used_up{0};
    std::vector<std::thread> threads;
    for (const auto& who : crowd) {
        threads.emplace_back([&, who] {
            const auto reply = redeem(who, "RUSH");
            if (reply.status == 200) ++ok;
            if (reply.status == 400 && reply.body["error"]["code"] == "promo_inactive") ++used_up;
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(ok.load(), 5);
    EXPECT_EQ(used_up.load(), 7);
    EXPECT_EQ(w.query("SELECT redemptions FROM promo_codes WHERE code = 'RUSH'"), "5");
    EXPECT_EQ(w.query("SELECT count(*) FROM credit_entries WHERE note = 'Promo code RUSH'"), "5");
}
