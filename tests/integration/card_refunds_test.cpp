// Refunds of a prepaid VM's unused time to the card (LNVPS GET/POST /vms/{id}/refund with
// payment_method stripe), end to end: a coordinator with prepaid billing and billing.stripe
// pointed at the fake Stripe; customers top up with a saved card, order VMs from those credits
// (no host is enrolled, so the VMs never build, but the first period is charged at the order),
// and an operator quotes and issues refunds that go back through Stripe against the top-ups.
#include "tests/fakes/fake_stripe.hpp"
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/stripe_coordinator.hpp"
#include "tests/integration/test_helpers.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/temp_file.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <ctime>
#include <thread>

using namespace vpsfleet::testing;
using json = nlohmann::json;

namespace {

struct refund_world : stripe_coordinator {
    signed_up ops;

    explicit refund_world(const std::string& billing = "  prepaid: true\n")
        : stripe_coordinator(billing) {
        ops = sign_up(api, "ops@example.com");
        grant_role(db, ops.email, "super_admin");
    }

    api_reply admin(const std::string& method, const std::string& path,
                    const json& body = nullptr) const {
        return api.call(method, "/api/admin/v1" + path, body, api_client::bearer(ops.access_token));
    }

    std::string query(const std::string& sql) const { return query_text(db, sql); }
    std::int64_t number(const std::string& sql) const { return std::stoll(query(sql)); }

    // Stripe.js in the customer's browser, then the webhook that makes the card the default.
    void save_card(const std::string& token) {
        const auto setup =
            api.post("/api/v1/billing/payment-methods/stripe", json::object(), token);
        ASSERT_EQ(setup.status, 200) << setup.raw;
        const std::string url = setup.body["redirectUrl"];
        const auto at = url.find("setup_intent=") + 13;
        const auto r = run_command({"curl", "-sS", "--cacert", ca.path(), "-u",
                                    stripe.secret_key() + ":", "-d", "payment_method=pm_card_visa",
                                    stripe.url() + "/v1/setup_intents/" +
                                        url.substr(at, url.find('&', at) - at) + "/confirm"});
        ASSERT_NE(r.output.find("succeeded"), std::string::npos) << r.output;
        ASSERT_TRUE(stripe.wait_for_webhooks());
    }

    // A top-up charged at once to the saved card; returns its payment intent.
    std::string top_up(const std::string& token, std::int64_t amount) {
        const auto r = api.post("/api/v1/billing/top-up", {{"amountOre", amount}}, token);
        EXPECT_EQ(r.status, 200) << r.raw;
        EXPECT_EQ(r.body["status"], "succeeded") << r.raw;
        EXPECT_TRUE(stripe.wait_for_webhooks());
        return query(
            "SELECT external_id FROM payments WHERE purpose = 'topup' ORDER BY id DESC LIMIT 1");
    }

    // Orders a VM paid from credits and waits for its create job to end; returns the VM's id.
    std::string order(const std::string& token, const std::string& name) {
        const std::string project = first_project(api, token);
        const auto r =
            api.post("/api/v1/projects/" + project + "/instances", instance_order(name), token);
        EXPECT_EQ(r.status, 202) << r.raw;
        finished_job(api, project, r.body["job"]["uid"], token);
        return query("SELECT id FROM instances WHERE name = '" + name + "'");
    }

    std::int64_t quote(const std::string& vm, const std::string& method) const {
        const auto r = admin("GET", "/vms/" + vm + "/refund?method=" + method);
        EXPECT_EQ(r.status, 200) << r.raw;
        return r.status == 200 ? r.body["data"]["amount"].get<std::int64_t>() : -1;
    }

    // Issues a refund and waits for its job to end; returns the job's uid.
    std::string refund(const std::string& vm, const std::string& method) const {
        const auto r = admin("POST", "/vms/" + vm + "/refund",
                             {{"payment_method", method}, {"reason", "customer left"}});
        EXPECT_EQ(r.status, 200) << r.raw;
        const std::string job =
            r.status == 200 ? r.body["data"]["job_id"].get<std::string>() : std::string();
        EXPECT_TRUE(eventually([&] {
            const auto state = job_state(job);
            return state != "pending" && state != "running";
        }));
        return job;
    }

    std::string job_state(const std::string& job) const {
        return query("SELECT state FROM jobs WHERE uid = '" + job + "'");
    }

    // What Stripe holds for each refund the job recorded, oldest first: "pi_...:amount".
    std::vector<std::string> stripe_refunds(const std::string& job) const {
        std::vector<std::string> out;
        const std::string ids = query(
            "SELECT string_agg(external_id, ',' ORDER BY id) FROM provider_refunds "
            "WHERE job_uid = '" +
            job + "' AND external_id IS NOT NULL");
        std::size_t start = 0;
        while (start < ids.size()) {
            const auto end = std::min(ids.find(',', start), ids.size());
            const json refund = stripe.object(ids.substr(start, end - start));
            out.push_back(refund.value("payment_intent", "?") + ":" +
                          std::to_string(refund.value("amount", std::int64_t{-1})));
            start = end + 1;
        }
        return out;
    }

    // What the coordinator recorded for the job, the same way, with each row's status.
    std::string recorded(const std::string& job) const {
        return query(
            "SELECT string_agg(p.external_id || ':' || r.amount || ':' || r.status, ',' "
            "ORDER BY r.id) FROM provider_refunds r JOIN payments p ON p.id = r.payment_id "
            "WHERE r.job_uid = '" +
            job + "'");
    }
};

}  // namespace

namespace {

std::string hmac_sha256_hex(const std::string& key, const std::string& data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
    std::string hex;
    for (unsigned int i = 0; i < len; ++i) {
        hex += "0123456789abcdef"[out[i] >> 4];
        hex += "0123456789abcdef"[out[i] & 15];
    }
    return hex;
}

std::string join(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : ",") + p;
    return out;
}

}  // namespace

TEST(card_refunds, go_back_to_the_newest_card_top_ups_exactly_once) {
    refund_world w;
    const auto c = sign_up(w.api, "payer@example.com");
    const auto t = c.access_token;
    w.save_card(t);
    const std::string older = w.top_up(t, 5'000);
    const std::string newer = w.top_up(t, 5'000);
    ASSERT_NE(older, newer);
    const std::string vm1 = w.order(t, "web-01");
    const std::string vm2 = w.order(t, "web-02");
    const auto price = w.number(
        "SELECT amount FROM payments WHERE purpose = 'vm_renewal' AND instance_id = " + vm1);
    ASSERT_GT(price, 1'000);
    ASSERT_LE(price, 5'000);
    const std::string balance =
        "SELECT balance FROM credit_accounts c JOIN users u ON "
        "u.id = c.user_id WHERE u.email = 'payer@example.com'";
    ASSERT_EQ(w.number(balance), 10'000 - 2 * price);

    // The quote is the same pro-rata amount as for credits; the refund goes to the newest top-up.
    const auto quoted = w.quote(vm1, "stripe");
    EXPECT_GT(quoted, price - 10);
    EXPECT_LE(quoted, price);
    const auto job1 = w.refund(vm1, "stripe");
    ASSERT_EQ(w.job_state(job1), "completed")
        << w.query("SELECT error FROM jobs WHERE uid = '" + job1 + "'");
    const auto r1 = w.number("SELECT refunded_amount FROM payments WHERE instance_id = " + vm1);
    EXPECT_GE(r1, quoted - 5);
    EXPECT_LE(r1, quoted + 1);
    EXPECT_EQ(join(w.stripe_refunds(job1)), newer + ":" + std::to_string(r1));
    EXPECT_EQ(w.recorded(job1), newer + ":" + std::to_string(r1) + ":succeeded");
    EXPECT_EQ(w.number("SELECT refunded_amount FROM payments WHERE external_id = '" + newer + "'"),
              r1);
    const json result = json::parse(w.query("SELECT result FROM jobs WHERE uid = '" + job1 + "'"));
    EXPECT_EQ(result["amount"], r1);
    EXPECT_EQ(result["refunds"][0]["payment_intent"], newer);
    EXPECT_EQ(result["refunds"][0]["status"], "succeeded");
    // The money went to the card, not to the credits; the VM's paid time is over, and its
    // history and the audit log say so.
    EXPECT_EQ(w.number(balance), 10'000 - 2 * price);
    EXPECT_EQ(w.query("SELECT auto_renew FROM instances WHERE id = " + vm1), "f");
    EXPECT_EQ(w.query("SELECT expires_at <= now() FROM instances WHERE id = " + vm1), "t");
    EXPECT_EQ(w.query("SELECT count(*) FROM vm_history WHERE vm_id = " + vm1 +
                      " AND description LIKE '%to card (customer left)'"),
              "1");
    EXPECT_EQ(w.query("SELECT after->>'payment_method' FROM audit_log WHERE action = "
                      "'vm.refund' AND target_id = '" +
                      vm1 + "'"),
              "stripe");
    EXPECT_EQ(w.quote(vm1, "stripe"), 0);

    // The second VM's refund takes what is left of the newest top-up, then the older one.
    const auto job2 = w.refund(vm2, "stripe");
    ASSERT_EQ(w.job_state(job2), "completed")
        << w.query("SELECT error FROM jobs WHERE uid = '" + job2 + "'");
    const auto r2 = w.number("SELECT refunded_amount FROM payments WHERE instance_id = " + vm2);
    const auto rest_of_newer = 5'000 - r1;
    ASSERT_LT(rest_of_newer, r2);
    const std::string expected = newer + ":" + std::to_string(rest_of_newer) + "," + older + ":" +
                                 std::to_string(r2 - rest_of_newer);
    EXPECT_EQ(join(w.stripe_refunds(job2)), expected);
    EXPECT_EQ(w.stripe.counts().refunds, 3u);
    const std::string keys =
        "SELECT string_agg(idempotency_key, ',' ORDER BY id) FROM "
        "provider_refunds WHERE job_uid = '" +
        job2 + "'";
    EXPECT_EQ(w.query(keys).rfind("vm-refund-" + job2 + "-", 0), 0u) << w.query(keys);

    // The job run again from its issue step, as after a worker that died once Stripe had acted
    // but before the answers were written: the same idempotency keys get the same refunds back.
    const auto replays = w.stripe.counts().idempotent_replays;
    exec_sql(w.db,
             "UPDATE provider_refunds SET status = 'requested', external_id = NULL "
             "WHERE job_uid = '" +
                 job2 + "'");
    exec_sql(w.db,
             "UPDATE jobs SET state = 'pending', result = NULL, finished_at = NULL, "
             "lease_owner = NULL, lease_expires_at = NULL, run_after = now() "
             "WHERE uid = '" +
                 job2 + "'");
    ASSERT_TRUE(eventually([&] { return w.job_state(job2) == "completed"; }))
        << w.query("SELECT error FROM jobs WHERE uid = '" + job2 + "'");
    EXPECT_EQ(join(w.stripe_refunds(job2)), expected);
    EXPECT_EQ(w.stripe.counts().refunds, 3u);
    EXPECT_EQ(w.stripe.counts().idempotent_replays, replays + 2);
    EXPECT_EQ(w.number(balance), 10'000 - 2 * price);

    // Stripe reporting a refund failed later (refund.updated, after it had succeeded) is written
    // on its row; the money never reached the card, so it goes to the owner's credits, once, the
    // top-up it came from can be refunded again, and the owner gets a mail.
    const std::string re =
        w.query("SELECT external_id FROM provider_refunds WHERE job_uid = '" + job1 + "'");
    const auto refund_failed = [&](const std::string& event_id) {
        const std::string payload = json{{"id", event_id},
                                         {"object", "event"},
                                         {"type", "refund.updated"},
                                         {"created", std::time(nullptr)},
                                         {"data",
                                          {{"object",
                                            {{"id", re},
                                             {"object", "refund"},
                                             {"status", "failed"},
                                             {"failure_reason", "expired_or_canceled_card"}}}}}}
                                        .dump();
        const std::string stamp = std::to_string(std::time(nullptr));
        return run_command({"curl", "-sS", "-H", "Content-Type: application/json", "-H",
                            "Stripe-Signature: t=" + stamp + ",v1=" +
                                hmac_sha256_hex(w.stripe.webhook_secret(), stamp + "." + payload),
                            "--data-binary", payload,
                            "http://127.0.0.1:" + std::to_string(w.coordinator.port) +
                                "/api/v1/billing/webhooks/stripe"})
            .output;
    };
    const auto posted = refund_failed("evt_refund_failed_1");
    EXPECT_NE(posted.find("\"received\":true"), std::string::npos) << posted;
    EXPECT_EQ(
        w.query("SELECT status || ':' || failure FROM provider_refunds WHERE external_id = '" + re +
                "'"),
        "failed:expired_or_canceled_card");
    EXPECT_EQ(w.number(balance), 10'000 - 2 * price + r1);
    EXPECT_EQ(w.number("SELECT refunded_amount FROM payments WHERE external_id = '" + newer + "'"),
              rest_of_newer);
    EXPECT_EQ(w.query("SELECT count(*) FROM credit_entries e JOIN users u ON u.id = e.user_id "
                      "WHERE u.email = 'payer@example.com' AND e.type = 'refund' AND e.amount = " +
                      std::to_string(r1) + " AND e.note LIKE '%returned as credits'"),
              "1");
    EXPECT_EQ(w.query("SELECT count(*) FROM mail_outbox WHERE to_address = 'payer@example.com' AND "
                      "subject = 'Your refund was added to your credits' AND body LIKE "
                      "'%expired_or_canceled_card%'"),
              "1");
    // Stripe telling it again (a second event about the same failure) changes nothing more.
    refund_failed("evt_refund_failed_2");
    EXPECT_EQ(w.number(balance), 10'000 - 2 * price + r1);
    EXPECT_EQ(w.query("SELECT count(*) FROM mail_outbox WHERE subject = 'Your refund was added to "
                      "your credits'"),
              "1");
}

TEST(card_refunds, are_refused_when_the_credits_did_not_come_from_a_card_and_credits_still_work) {
    refund_world w;
    const auto c = sign_up(w.api, "banked@example.com");
    const std::string user = w.query("SELECT id FROM users WHERE email = 'banked@example.com'");
    ASSERT_EQ(w.admin("POST", "/users/" + user + "/credits",
                      {{"amount", 10'000}, {"note", "bank transfer"}})
                  .status,
              200);
    const std::string vm = w.order(c.access_token, "web-01");
    const std::string state =
        "SELECT auto_renew || ' ' || expires_at FROM instances WHERE id = " + vm;
    const std::string before = w.query(state);

    const auto quote = w.admin("GET", "/vms/" + vm + "/refund?method=stripe");
    EXPECT_EQ(quote.status, 409) << quote.raw;
    EXPECT_NE(quote.raw.find("refund as credits"), std::string::npos) << quote.raw;
    const auto refused = w.admin("POST", "/vms/" + vm + "/refund", {{"payment_method", "stripe"}});
    EXPECT_EQ(refused.status, 409) << refused.raw;
    EXPECT_NE(refused.raw.find("card payments can refund only 0.00 DKK"), std::string::npos)
        << refused.raw;
    EXPECT_EQ(w.admin("POST", "/vms/" + vm + "/refund", {{"payment_method", "card"}}).status, 400);
    EXPECT_EQ(w.query("SELECT count(*) FROM jobs WHERE kind LIKE 'billing.%'"), "0");
    EXPECT_EQ(w.query("SELECT count(*) FROM provider_refunds"), "0");
    EXPECT_EQ(w.query("SELECT count(*) FROM audit_log WHERE action = 'vm.refund'"), "0");
    EXPECT_EQ(w.query(state), before);
    EXPECT_EQ(w.stripe.counts().refunds, 0u);

    // As credits it is refunded.
    const std::string balance = "SELECT balance FROM credit_accounts WHERE user_id = " + user;
    const auto held = w.number(balance);
    const auto owed = w.quote(vm, "credits");
    const auto job = w.refund(vm, "credits");
    ASSERT_EQ(w.job_state(job), "completed");
    EXPECT_GE(w.number(balance), held + owed - 5);
    EXPECT_LE(w.number(balance), held + owed + 1);
    EXPECT_EQ(w.stripe.counts().refunds, 0u);
}

TEST(card_refunds, a_stripe_outage_retries_the_job_and_a_refusal_keeps_what_was_refunded) {
    refund_world w;
    const auto c = sign_up(w.api, "payer@example.com");
    const auto t = c.access_token;
    w.save_card(t);
    const std::string older = w.top_up(t, 5'000);
    const std::string newer = w.top_up(t, 5'000);
    const std::string vm1 = w.order(t, "web-01");
    const std::string vm2 = w.order(t, "web-02");

    // Stripe answers 500 once: the job runs again and refunds once.
    w.stripe.fail_next_request(500, "api_error", "", "Something went wrong on Stripe's end.");
    const auto job1 = w.refund(vm1, "stripe");
    ASSERT_EQ(w.job_state(job1), "completed")
        << w.query("SELECT error FROM jobs WHERE uid = '" + job1 + "'");
    EXPECT_EQ(w.query("SELECT attempts FROM jobs WHERE uid = '" + job1 + "'"), "2");
    const auto r1 = w.number("SELECT refunded_amount FROM payments WHERE instance_id = " + vm1);
    EXPECT_EQ(join(w.stripe_refunds(job1)), newer + ":" + std::to_string(r1));
    EXPECT_EQ(w.stripe.counts().refunds, 1u);

    // The older top-up was refunded in full outside vpsfleet, so Stripe refuses the part of the
    // second refund that falls on it: the job fails with Stripe's error, the part refunded from
    // the newer top-up stays recorded, and the rest is owed again.
    const auto outside =
        run_command({"curl", "-sS", "--cacert", w.ca.path(), "-u", w.stripe.secret_key() + ":",
                     "-d", "payment_intent=" + older, w.stripe.url() + "/v1/refunds"});
    ASSERT_NE(outside.output.find("\"succeeded\""), std::string::npos) << outside.output;
    const auto quoted = w.quote(vm2, "stripe");  // the database still counts the older top-up
    const auto job2 = w.refund(vm2, "stripe");
    ASSERT_EQ(w.job_state(job2), "failed");
    const json error = json::parse(w.query("SELECT error FROM jobs WHERE uid = '" + job2 + "'"));
    EXPECT_EQ(error["code"], "charge_already_refunded") << error;
    const auto rest_of_newer = 5'000 - r1;
    EXPECT_EQ(join(w.stripe_refunds(job2)), newer + ":" + std::to_string(rest_of_newer));
    const std::string rows = w.recorded(job2);
    EXPECT_EQ(
        rows.rfind(newer + ":" + std::to_string(rest_of_newer) + ":succeeded," + older + ":", 0),
        0u)
        << rows;
    EXPECT_EQ(rows.substr(rows.size() - 9), ":released") << rows;
    EXPECT_EQ(w.stripe.counts().refunds, 3u);
    EXPECT_EQ(w.number("SELECT refunded_amount FROM payments WHERE external_id = '" + older + "'"),
              0);
    EXPECT_EQ(w.number("SELECT refunded_amount FROM payments WHERE instance_id = " + vm2),
              rest_of_newer);
    const auto owed = w.quote(vm2, "credits");
    EXPECT_GE(owed, quoted - rest_of_newer - 5);
    EXPECT_LE(owed, quoted - rest_of_newer);
}

TEST(card_refunds, an_unanswered_refund_is_asked_again_with_its_key_once_the_job_gave_up) {
    refund_world w("  prepaid: true\n  sweep_interval: 300ms\n");
    const auto c = sign_up(w.api, "payer@example.com");
    const auto t = c.access_token;
    w.save_card(t);
    const std::string topup = w.top_up(t, 10'000);
    const std::string vm1 = w.order(t, "web-01");
    const std::string vm2 = w.order(t, "web-02");
    const auto server_error = [&] {
        w.stripe.fail_next_request(500, "api_error", "", "Something went wrong on Stripe's end.");
    };

    // Stripe fails all three attempts of the job: it may have acted, so the job ends failed with
    // the refund still asked for. The next sweep asks again with the same key: one refund.
    for (int i = 0; i < 3; ++i) server_error();
    const auto job1 = w.refund(vm1, "stripe");
    EXPECT_EQ(w.job_state(job1), "failed");
    EXPECT_EQ(w.query("SELECT attempts FROM jobs WHERE uid = '" + job1 + "'"), "3");
    const auto r1 = w.number("SELECT amount FROM provider_refunds WHERE job_uid = '" + job1 + "'");
    EXPECT_TRUE(eventually([&] { return w.recorded(job1).ends_with(":succeeded"); }))
        << w.recorded(job1);
    EXPECT_EQ(w.recorded(job1), topup + ":" + std::to_string(r1) + ":succeeded");
    EXPECT_EQ(join(w.stripe_refunds(job1)), topup + ":" + std::to_string(r1));
    std::this_thread::sleep_for(std::chrono::seconds(1));  // three more sweeps
    EXPECT_EQ(w.stripe.counts().refunds, 1u);

    // The same, but Stripe then refuses outright (nothing was refunded): the VM's paid time stays
    // ended, and the amount goes to the owner's credits instead, with a mail.
    const std::string balance =
        "SELECT balance FROM credit_accounts c JOIN users u ON "
        "u.id = c.user_id WHERE u.email = 'payer@example.com'";
    const auto before = w.number(balance);
    for (int i = 0; i < 3; ++i) server_error();
    w.stripe.fail_next_request(400, "invalid_request_error", "charge_already_refunded",
                               "Charge has already been refunded.");
    const auto job2 = w.refund(vm2, "stripe");
    EXPECT_EQ(w.job_state(job2), "failed");
    const auto r2 = w.number("SELECT amount FROM provider_refunds WHERE job_uid = '" + job2 + "'");
    EXPECT_TRUE(eventually([&] { return w.recorded(job2).ends_with(":released"); }))
        << w.recorded(job2);
    EXPECT_EQ(w.number(balance), before + r2);
    EXPECT_EQ(w.query("SELECT expires_at <= now() FROM instances WHERE id = " + vm2), "t");
    EXPECT_EQ(w.query("SELECT count(*) FROM mail_outbox WHERE subject = 'Your refund was added to "
                      "your credits' AND body LIKE '%already been refunded%'"),
              "1");
    EXPECT_EQ(w.stripe.counts().refunds, 1u);
    EXPECT_EQ(w.number("SELECT refunded_amount FROM payments WHERE external_id = '" + topup + "'"),
              r1);
}

TEST(card_refunds, need_a_configured_payment_provider) {
    admin_world w;
    EXPECT_EQ(w.call("GET", "/vms/1/refund?method=stripe").status, 400);
    const auto r = w.call("POST", "/vms/1/refund", {{"payment_method", "stripe"}});
    EXPECT_EQ(r.status, 400) << r.raw;
    EXPECT_NE(r.raw.find("billing.stripe is not configured"), std::string::npos) << r.raw;
}
