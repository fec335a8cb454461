// Card top-ups end to end: a coordinator process with billing.stripe pointed at the fake Stripe
// (tests/fakes), which speaks Stripe's API over TLS and posts signed webhooks back to the
// coordinator. The customer's browser step (Stripe.js confirming the intent) is played by
// calling the fake's confirm endpoint, as Stripe.js would.
#include "tests/fakes/fake_stripe.hpp"
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/stripe_coordinator.hpp"
#include "tests/integration/test_helpers.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/temp_file.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>

#include <thread>

using namespace vpsfleet::testing;
using json = nlohmann::json;

namespace {

struct payment_world : stripe_coordinator {
    signed_up user;

    explicit payment_world(const std::string& billing = "") : stripe_coordinator(billing) {
        user = sign_up(api, "card@example.com");
    }

    // What Stripe.js does in the customer's browser: confirm an intent with a card.
    json confirm(const std::string& kind, const std::string& id, const std::string& card) {
        const auto r = run_command({"curl", "-sS", "--cacert", ca.path(), "-u",
                                    stripe.secret_key() + ":", "-d", "payment_method=" + card,
                                    stripe.url() + "/v1/" + kind + "/" + id + "/confirm"});
        return json::parse(r.output, nullptr, false);
    }

    std::int64_t balance() {
        const auto r = api.get("/api/v1/billing/credits", user.access_token);
        return r.body["balanceOre"].get<std::int64_t>();
    }

    std::string query(const std::string& sql) { return query_text(db, sql); }

    // Saves a card through a setup intent the browser confirms, as the customer does.
    void save_card(const std::string& token, const std::string& card) {
        const auto setup =
            api.post("/api/v1/billing/payment-methods/stripe", json::object(), token);
        ASSERT_EQ(setup.status, 200) << setup.raw;
        const std::string url = setup.body["redirectUrl"];
        const auto at = url.find("setup_intent=") + 13;
        EXPECT_EQ(confirm("setup_intents", url.substr(at, url.find('&', at) - at), card)["status"],
                  "succeeded");
        ASSERT_TRUE(stripe.wait_for_webhooks());
    }
};

std::string param(const std::string& url, const std::string& name) {
    const auto at = url.find(name + "=");
    if (at == std::string::npos) return {};
    const auto start = at + name.size() + 1;
    return url.substr(start, url.find('&', start) - start);
}

}  // namespace

TEST(card_payments, a_top_up_is_credited_once_when_stripe_reports_it_paid) {
    payment_world w;
    const auto t = w.user.access_token;
    EXPECT_EQ(w.api.post("/api/v1/billing/top-up", {{"amountOre", 4999}}, t).status, 400);
    EXPECT_EQ(w.api.post("/api/v1/billing/top-up", {{"amountOre", "20000"}}, t).status, 400);

    const auto started = w.api.post("/api/v1/billing/top-up", {{"amountOre", 20'000}}, t);
    ASSERT_EQ(started.status, 200) << started.raw;
    EXPECT_EQ(started.body["status"], "pending");
    const std::string redirect = started.body["redirectUrl"];
    EXPECT_EQ(redirect.rfind("https://panel.example.com/pay?", 0), 0u) << redirect;
    const std::string intent = param(redirect, "payment_intent");
    EXPECT_FALSE(param(redirect, "client_secret").empty());
    EXPECT_EQ(w.balance(), 0);  // nothing is credited before the money is in

    // The customer pays in the browser; Stripe's webhook credits the account.
    EXPECT_EQ(w.confirm("payment_intents", intent, "pm_card_visa")["status"], "succeeded");
    ASSERT_TRUE(w.stripe.wait_for_webhooks());
    EXPECT_EQ(w.balance(), 20'000);
    const auto credits = w.api.get("/api/v1/billing/credits", t);
    EXPECT_EQ(credits.body["ledger"][0]["type"], "topup");
    EXPECT_EQ(credits.body["ledger"][0]["amountOre"], 20'000);
    EXPECT_EQ(w.query("SELECT status FROM payments WHERE external_id = '" + intent + "'"), "paid");

    // Stripe retrying the same event changes nothing; a replay with an old signature or a forged
    // body is refused.
    w.stripe.resend_last_event();
    ASSERT_TRUE(w.stripe.wait_for_webhooks());
    EXPECT_EQ(w.stripe.deliveries().back().status, 200);
    w.stripe.resend_last_event(std::chrono::system_clock::now() - std::chrono::hours(1));
    ASSERT_TRUE(w.stripe.wait_for_webhooks());
    EXPECT_EQ(w.stripe.deliveries().back().status, 400);
    const auto forged = w.api.call("POST", "/api/v1/billing/webhooks/stripe",
                                   json::parse(w.stripe.events().back().payload),
                                   {{"Stripe-Signature", "t=1700000000,v1=00"}});
    EXPECT_EQ(forged.status, 400);
    EXPECT_EQ(forged.body["error"]["code"], "invalid_signature");
    EXPECT_EQ(w.balance(), 20'000);
    EXPECT_EQ(w.query("SELECT count(*) FROM credit_entries"), "1");
}

TEST(card_payments, a_saved_card_pays_at_once_and_retries_never_charge_twice) {
    payment_world w;
    const auto t = w.user.access_token;
    EXPECT_TRUE(w.api.get("/api/v1/billing/payment-methods", t).body.empty());

    // Saving a card: a setup intent the browser confirms; Stripe's webhook makes it the default.
    const auto setup = w.api.post("/api/v1/billing/payment-methods/stripe", json::object(), t);
    ASSERT_EQ(setup.status, 200) << setup.raw;
    const std::string seti = param(setup.body["redirectUrl"], "setup_intent");
    EXPECT_EQ(w.confirm("setup_intents", seti, "pm_card_visa")["status"], "succeeded");
    ASSERT_TRUE(w.stripe.wait_for_webhooks());
    const auto methods = w.api.get("/api/v1/billing/payment-methods", t);
    ASSERT_EQ(methods.status, 200) << methods.raw;
    ASSERT_EQ(methods.body.size(), 1u) << methods.raw;
    EXPECT_EQ(methods.body[0]["isDefault"], true);
    EXPECT_EQ(methods.body[0]["provider"], "stripe");
    EXPECT_NE(methods.body[0]["label"].get<std::string>().find("4242"), std::string::npos);

    // A top-up with the saved card is charged at once; the same Idempotency-Key again replays
    // the answer and charges nothing more, also when the webhook arrives after.
    const http_headers retry{{"Authorization", "Bearer " + t}, {"Idempotency-Key", "topup-1"}};
    const auto paid = w.api.call("POST", "/api/v1/billing/top-up", {{"amountOre", 10'000}}, retry);
    ASSERT_EQ(paid.status, 200) << paid.raw;
    EXPECT_EQ(paid.body["status"], "succeeded");
    EXPECT_EQ(w.balance(), 10'000);
    const auto again = w.api.call("POST", "/api/v1/billing/top-up", {{"amountOre", 10'000}}, retry);
    EXPECT_EQ(again.status, 200);
    EXPECT_EQ(again.header("idempotent-replayed"), "true");
    ASSERT_TRUE(w.stripe.wait_for_webhooks());
    EXPECT_EQ(w.balance(), 10'000);
    EXPECT_EQ(w.stripe.counts().payment_intents, 1u);
    EXPECT_EQ(w.query("SELECT count(*) FROM payments WHERE purpose = 'topup'"), "1");

    // Removing the card.
    const std::string card = methods.body[0]["uid"];
    EXPECT_EQ(w.api
                  .call("DELETE", "/api/v1/billing/payment-methods/pm_nope", nullptr,
                        api_client::bearer(t))
                  .status,
              404);
    EXPECT_EQ(w.api
                  .call("DELETE", "/api/v1/billing/payment-methods/" + card, nullptr,
                        api_client::bearer(t))
                  .status,
              204);
    EXPECT_TRUE(w.api.get("/api/v1/billing/payment-methods", t).body.empty());
}

TEST(card_payments, without_a_provider_top_ups_are_unavailable) {
    admin_world w;
    const auto user = sign_up(w.api, "nocard@example.com");
    const auto r = w.api.post("/api/v1/billing/top-up", {{"amountOre", 10'000}}, user.access_token);
    EXPECT_EQ(r.status, 503);
    EXPECT_EQ(r.body["error"]["code"], "provider_not_configured");
}

TEST(card_payments, auto_recharge_tops_up_from_the_saved_card_once_and_mails_a_refusal) {
    payment_world w("  sweep_interval: 100ms\n");
    const auto t = w.user.access_token;
    w.save_card(t, "pm_card_visa");
    const json settings = {{"autorechargeEnabled", true},
                           {"autorechargeTriggerOre", 5'000},
                           {"autorechargeAmountOre", 20'000}};
    ASSERT_EQ(w.api.call("PUT", "/api/v1/billing/settings", settings, api_client::bearer(t)).status,
              204);

    // At 0 the balance is below the trigger: the saved card pays 200 DKK, once.
    EXPECT_TRUE(eventually([&] { return w.balance() == 20'000; })) << w.balance();
    std::this_thread::sleep_for(std::chrono::seconds(1));  // ten more sweeps
    EXPECT_EQ(w.balance(), 20'000);
    EXPECT_EQ(w.stripe.counts().payment_intents, 1u);
    EXPECT_EQ(w.query("SELECT count(*) FROM payments WHERE purpose = 'topup' AND status = 'paid' "
                      "AND idempotency_key LIKE 'autorecharge-%'"),
              "1");
    const auto ledger = w.api.get("/api/v1/billing/credits", t).body["ledger"];
    EXPECT_EQ(ledger[0]["type"], "topup");
    EXPECT_EQ(ledger[0]["amountOre"], 20'000);

    // A card the bank refuses: one attempt, the owner is told why, and it waits before the next.
    const auto other = sign_up(w.api, "declined@example.com");
    w.save_card(other.access_token, "pm_card_visa");
    exec_sql(w.db,
             "UPDATE credit_accounts SET default_payment_method = 'pm_card_chargeDeclined' "
             "WHERE user_id = (SELECT id FROM users WHERE email = 'declined@example.com')");
    ASSERT_EQ(w.api
                  .call("PUT", "/api/v1/billing/settings", settings,
                        api_client::bearer(other.access_token))
                  .status,
              204);
    const std::string refusals =
        "SELECT count(*) FROM mail_outbox WHERE to_address = 'declined@example.com' AND subject "
        "= 'Your automatic top-up did not go through' AND body LIKE '%declined%'";
    EXPECT_TRUE(eventually([&] { return w.query(refusals) == "1"; })) << w.query(refusals);
    std::this_thread::sleep_for(std::chrono::seconds(1));
    EXPECT_EQ(w.query(refusals), "1");
    EXPECT_EQ(w.query("SELECT count(*) FROM payments p JOIN users u ON u.id = p.user_id WHERE "
                      "u.email = 'declined@example.com' AND p.status = 'failed'"),
              "1");
    EXPECT_EQ(w.api.get("/api/v1/billing/credits", other.access_token).body["balanceOre"], 0);
    EXPECT_EQ(w.balance(), 20'000);
}
