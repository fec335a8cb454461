// Prepaid billing end to end on real parts: a coordinator with billing.prepaid, PostgreSQL, and an
// agent on libvirt's test:/// driver. A customer without credits cannot order; an operator books
// credits; the order charges the first month; when the VM's paid time runs out the sweep stops it
// on its host; an operator's extension starts it again; a refund returns the unused time as
// credits; after the grace the VM is deleted from its host.
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/fleet_fixture.hpp"
#include "tests/integration/test_helpers.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/temp_file.hpp"

#include <gtest/gtest.h>

using namespace vpsfleet::testing;
using json = nlohmann::json;

namespace {

const char* const k_prepaid =
    "billing:\n  prepaid: true\n  currency: DKK\n  sweep_interval: 200ms\n  grace: 1h\n"
    "  tax_rates: [DK=2500]\n  seller_name: Nordic Hosting ApS\n  seller_vat_id: DK12345678\n";

api_reply admin(const api_client& api, const std::string& token, const std::string& method,
                const std::string& path, const json& body = nullptr) {
    return api.call(method, "/api/admin/v1" + path, body, api_client::bearer(token));
}

}  // namespace

TEST(billing_e2e, a_prepaid_vm_is_charged_expires_on_its_host_is_extended_refunded_and_deleted) {
    fleet_fixture fleet(k_prepaid);
    auto agent = fleet.start_catalog_host_agent("hv-a");
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "online"));
    const std::string host = fleet.give_host_room("hv-a");
    const auto& url = fleet.database_url();
    const api_client api(fleet.coordinator().port);

    const auto ops = sign_up(api, "ops@example.com");
    grant_role(url, ops.email, "super_admin");
    const auto user = sign_up(api, "payer@example.com");
    const std::string user_id =
        query_text(url, "SELECT id FROM users WHERE email = 'payer@example.com'");
    exec_sql(url, "UPDATE users SET country = 'DK' WHERE id = " + user_id);
    const std::string project = first_project(api, user.access_token);
    const std::string base = "/api/v1/projects/" + project + "/instances";

    // No credits: the order is refused and nothing is created.
    const auto refused = api.post(base, instance_order("web-01"), user.access_token);
    ASSERT_EQ(refused.status, 402) << refused.raw;
    EXPECT_EQ(refused.body["error"]["code"], "billing_insufficient_credit");
    EXPECT_EQ(query_text(url, "SELECT count(*) FROM instances"), "0");
    EXPECT_EQ(query_text(url, "SELECT count(*) FROM jobs"), "0");
    const auto overview = api.get("/api/v1/billing/overview", user.access_token);
    ASSERT_EQ(overview.status, 200) << overview.raw;
    EXPECT_EQ(overview.body["readiness"]["canProvision"], false);
    EXPECT_EQ(overview.body["readiness"]["minCreditOre"], 4000);

    // An operator books a bank transfer of 100 DKK.
    const auto booked = admin(api, ops.access_token, "POST", "/users/" + user_id + "/credits",
                              {{"amount", 10'000}, {"note", "bank transfer 2026-11-23"}});
    ASSERT_EQ(booked.status, 200) << booked.raw;
    EXPECT_EQ(booked.body["data"]["balance"], 10'000);
    const auto no_note =
        admin(api, ops.access_token, "POST", "/users/" + user_id + "/credits", {{"amount", 5}});
    EXPECT_EQ(no_note.status, 400) << no_note.raw;

    // The order now charges the first month (bxs-1: 40.00 DKK and 25 % Danish VAT) and the VM
    // runs on the host.
    const auto created = api.post(base, instance_order("web-01"), user.access_token);
    ASSERT_EQ(created.status, 202) << created.raw;
    const std::string instance = created.body["instance"]["uid"];
    ASSERT_EQ(finished_job(api, project, created.body["job"]["uid"], user.access_token)["status"],
              "succeeded");
    const auto credits = api.get("/api/v1/billing/credits", user.access_token);
    ASSERT_EQ(credits.status, 200) << credits.raw;
    EXPECT_EQ(credits.body["balanceOre"], 5'000);
    EXPECT_EQ(credits.body["ledger"][0]["type"], "charge");
    EXPECT_EQ(credits.body["ledger"][0]["amountOre"], -5'000);
    EXPECT_EQ(credits.body["ledger"][0]["balanceAfterOre"], 5'000);

    // Its invoice: issued and paid from credits, and a real PDF.
    const auto invoices = api.get("/api/v1/billing/invoices", user.access_token);
    ASSERT_EQ(invoices.status, 200) << invoices.raw;
    ASSERT_EQ(invoices.body.size(), 1u);
    EXPECT_EQ(invoices.body[0]["status"], "paid");
    EXPECT_EQ(invoices.body[0]["subtotalOre"], 4'000);
    EXPECT_EQ(invoices.body[0]["vatOre"], 1'000);
    EXPECT_EQ(invoices.body[0]["creditAppliedOre"], 5'000);
    EXPECT_EQ(invoices.body[0]["totalDueOre"], 0);
    const std::string number = invoices.body[0]["number"];
    const auto pdf =
        api.get("/api/v1/billing/invoices/" + invoices.body[0]["uid"].get<std::string>() + "/pdf",
                user.access_token);
    ASSERT_EQ(pdf.status, 200);
    EXPECT_EQ(pdf.header("content-type"), "application/pdf");
    const temp_file pdf_file(pdf.raw, ".pdf");
    const auto text = run_command({"pdftotext", pdf_file.path(), "-"});
    EXPECT_NE(text.output.find(number), std::string::npos) << text.output;
    EXPECT_NE(text.output.find("50.00 DKK"), std::string::npos) << text.output;
    EXPECT_NE(text.output.find("Nordic Hosting ApS"), std::string::npos) << text.output;
    EXPECT_EQ(api.get("/api/v1/billing/invoices/inv_nope/pdf", user.access_token).status, 404);
    const auto stranger = sign_up(api, "stranger@example.com");
    EXPECT_EQ(
        api.get("/api/v1/billing/invoices/" + invoices.body[0]["uid"].get<std::string>() + "/pdf",
                stranger.access_token)
            .status,
        404);
    EXPECT_EQ(credits.body["ledger"][1]["type"], "adjustment");

    const std::string vm =
        query_text(url, "SELECT id FROM instances WHERE uid = '" + instance + "'");
    const auto shown = admin(api, ops.access_token, "GET", "/vms/" + vm);
    ASSERT_EQ(shown.status, 200) << shown.raw;
    EXPECT_TRUE(shown.body["data"]["expires"].is_string()) << shown.raw;
    EXPECT_EQ(shown.body["data"]["auto_renewal_enabled"], true);
    const auto payments = admin(api, ops.access_token, "GET", "/vms/" + vm + "/payments");
    ASSERT_EQ(payments.status, 200) << payments.raw;
    ASSERT_EQ(payments.body["total"], 1);
    EXPECT_EQ(payments.body["data"][0]["amount"], 5'000);
    EXPECT_EQ(payments.body["data"][0]["currency"], "DKK");
    EXPECT_EQ(payments.body["data"][0]["payment_method"], "credits");
    EXPECT_EQ(payments.body["data"][0]["is_paid"], true);
    const std::string payment = payments.body["data"][0]["id"];
    EXPECT_EQ(admin(api, ops.access_token, "GET", "/vms/" + vm + "/payments/" + payment).status,
              200);

    const std::string domain_state =
        "SELECT state FROM host_domains WHERE host_id = " + host + " AND name = '" + instance + "'";
    ASSERT_TRUE(eventually([&] { return query_text(url, domain_state) == "running"; }));

    // Its paid time runs out (and it does not auto-renew): the sweep stops it on its host.
    exec_sql(url,
             "UPDATE instances SET expires_at = now() - interval '1 minute', "
             "auto_renew = false WHERE uid = '" +
                 instance + "'");
    EXPECT_TRUE(eventually([&] {
        const auto s = query_text(url, domain_state);
        return !s.empty() && s != "running";
    })) << query_text(url, domain_state);
    EXPECT_TRUE(eventually([&] {
        return query_text(url, "SELECT status FROM instances WHERE id = " + vm) == "stopped";
    }));
    EXPECT_EQ(query_text(url,
                         "SELECT count(*) FROM mail_outbox WHERE subject = "
                         "'Your server web-01 has expired'"),
              "1");
    EXPECT_EQ(query_text(url, "SELECT count(*) FROM vm_history WHERE vm_id = " + vm +
                                  " AND action_type = 'expired'"),
              "1");

    // An operator extends it by 30 days: it is running again, and the history says who and why.
    EXPECT_EQ(admin(api, ops.access_token, "PUT", "/vms/" + vm + "/extend", {{"days", 0}}).status,
              400);
    EXPECT_EQ(admin(api, ops.access_token, "PUT", "/vms/999999/extend", {{"days", 3}}).status, 404);
    const auto extended = admin(api, ops.access_token, "PUT", "/vms/" + vm + "/extend",
                                {{"days", 30}, {"reason", "goodwill"}});
    ASSERT_EQ(extended.status, 200) << extended.raw;
    EXPECT_TRUE(eventually([&] { return query_text(url, domain_state) == "running"; }));
    EXPECT_EQ(query_text(url,
                         "SELECT count(*) FROM vm_history v JOIN users u ON "
                         "u.id = v.initiated_by_user WHERE v.vm_id = " +
                             vm +
                             " AND v.action_type = 'renewed' AND u.email = 'ops@example.com' "
                             "AND v.description LIKE '%goodwill'"),
              "1");

    // The refund of the paid month: almost all of it is unused (the paid period began minutes
    // ago; the free extension is not money).
    EXPECT_EQ(admin(api, ops.access_token, "GET", "/vms/" + vm + "/refund?method=lightning").status,
              400);
    const auto quote = admin(api, ops.access_token, "GET", "/vms/" + vm + "/refund?method=credits");
    ASSERT_EQ(quote.status, 200) << quote.raw;
    const auto owed = quote.body["data"]["amount"].get<std::int64_t>();
    EXPECT_GT(owed, 4'990);
    EXPECT_LE(owed, 5'000);
    EXPECT_EQ(quote.body["data"]["currency"], "DKK");
    const auto refund = admin(api, ops.access_token, "POST", "/vms/" + vm + "/refund",
                              {{"payment_method", "credits"}, {"reason", "cancelled"}});
    ASSERT_EQ(refund.status, 200) << refund.raw;
    EXPECT_EQ(refund.body["data"]["job_dispatched"], true);
    const std::string job = refund.body["data"]["job_id"];
    ASSERT_TRUE(eventually([&] {
        return query_text(url, "SELECT state FROM jobs WHERE uid = '" + job + "'") == "completed";
    })) << query_text(url, "SELECT error FROM jobs WHERE uid = '" + job + "'");
    const auto balance = std::stoll(query_text(url,
                                               "SELECT balance FROM credit_accounts "
                                               "WHERE user_id = " +
                                                   user_id));
    // The refund is from the POST's whole second (LNVPS dates are unix seconds), the quote from
    // the moment it was asked: they differ by at most a few øre.
    EXPECT_GE(balance, 5'000 + owed - 5);
    EXPECT_LE(balance, 5'000 + owed + 1);
    EXPECT_EQ(query_text(url,
                         "SELECT balance = (SELECT sum(amount) FROM credit_entries WHERE "
                         "user_id = " +
                             user_id + ") FROM credit_accounts WHERE user_id = " + user_id),
              "t");

    // The refunded VM has no paid time left: it is stopped again, then deleted after the grace.
    EXPECT_TRUE(eventually([&] {
        return query_text(url, "SELECT expired_at IS NOT NULL FROM instances WHERE id = " + vm) ==
               "t";
    }));
    exec_sql(url, "UPDATE instances SET expired_at = now() - interval '2 hours' WHERE id = " + vm);
    EXPECT_TRUE(eventually([&] {
        return query_text(url, "SELECT status FROM instances WHERE id = " + vm) == "deleted";
    })) << query_text(url, "SELECT status FROM instances WHERE id = " + vm);
    EXPECT_TRUE(eventually([&] { return query_text(url, domain_state).empty(); }));
}

TEST(billing_api, settings_and_alerts_follow_the_document_and_refuse_bad_input) {
    admin_world w;
    const auto user = sign_up(w.api, "alerts@example.com");
    const auto t = user.access_token;

    auto settings = w.api.get("/api/v1/billing/settings", t);
    ASSERT_EQ(settings.status, 200) << settings.raw;
    EXPECT_EQ(settings.body["autorechargeEnabled"], false);
    auto put = w.api.call("PUT", "/api/v1/billing/settings", {{"autorechargeEnabled", true}},
                          api_client::bearer(t));
    EXPECT_EQ(put.status, 400);
    EXPECT_EQ(put.body["error"]["code"], "autorecharge_incomplete");
    put = w.api.call("PUT", "/api/v1/billing/settings",
                     {{"autorechargeEnabled", true},
                      {"autorechargeTriggerOre", 4999},
                      {"autorechargeAmountOre", 100'000}},
                     api_client::bearer(t));
    EXPECT_EQ(put.status, 400);
    EXPECT_EQ(put.body["error"]["code"], "invalid_request");
    put = w.api.call("PUT", "/api/v1/billing/settings",
                     {{"autorechargeEnabled", true},
                      {"autorechargeTriggerOre", 5'000},
                      {"autorechargeAmountOre", 100'000},
                      {"suspendAcknowledged", true}},
                     api_client::bearer(t));
    EXPECT_EQ(put.status, 204) << put.raw;
    put = w.api.call("PUT", "/api/v1/billing/settings",
                     {{"autorechargeEnabled", false}, {"suspendAcknowledged", false}},
                     api_client::bearer(t));
    EXPECT_EQ(put.status, 204) << put.raw;
    settings = w.api.get("/api/v1/billing/settings", t);
    EXPECT_EQ(settings.body["autorechargeEnabled"], false);
    EXPECT_EQ(settings.body["suspendAcknowledged"], true);  // write-once

    EXPECT_EQ(w.api.post("/api/v1/billing/alerts", {{"thresholdOre", -1}}, t).status, 400);
    EXPECT_EQ(w.api.post("/api/v1/billing/alerts", {{"thresholdOre", 1.5}}, t).status, 400);
    EXPECT_EQ(w.api.post("/api/v1/billing/alerts", {{"thresholdOre", 10'000}}, t).status, 204);
    EXPECT_EQ(w.api.post("/api/v1/billing/alerts", {{"thresholdOre", 0}}, t).status, 204);
    auto alerts = w.api.get("/api/v1/billing/alerts", t);
    ASSERT_EQ(alerts.status, 200) << alerts.raw;
    ASSERT_EQ(alerts.body.size(), 2u);
    EXPECT_EQ(alerts.body[0]["thresholdOre"], 10'000);
    EXPECT_EQ(alerts.body[0]["armed"], false);  // a balance of 0 is not above it
    EXPECT_EQ(
        w.api.call("DELETE", "/api/v1/billing/alerts/10000", nullptr, api_client::bearer(t)).status,
        204);
    EXPECT_EQ(
        w.api.call("DELETE", "/api/v1/billing/alerts/abc", nullptr, api_client::bearer(t)).status,
        400);
    alerts = w.api.get("/api/v1/billing/alerts", t);
    EXPECT_EQ(alerts.body.size(), 1u);

    const auto credits = w.api.get("/api/v1/billing/credits", t);
    ASSERT_EQ(credits.status, 200) << credits.raw;
    EXPECT_EQ(credits.body["balanceOre"], 0);
    EXPECT_TRUE(credits.body["ledger"].empty());
    EXPECT_EQ(w.api.get("/api/v1/billing/credits").status, 401);
}

TEST(billing_e2e, suspending_a_customer_stops_their_vms_on_the_host) {
    fleet_fixture fleet;
    auto agent = fleet.start_catalog_host_agent("hv-a");
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "online"));
    const std::string host = fleet.give_host_room("hv-a");
    const auto& url = fleet.database_url();
    const api_client api(fleet.coordinator().port);
    const auto ops = sign_up(api, "ops@example.com");
    grant_role(url, ops.email, "super_admin");
    const auto user = sign_up(api, "late@example.com");
    const std::string project = first_project(api, user.access_token);
    const auto created = api.post("/api/v1/projects/" + project + "/instances",
                                  instance_order("web-01"), user.access_token);
    ASSERT_EQ(created.status, 202) << created.raw;
    ASSERT_EQ(finished_job(api, project, created.body["job"]["uid"], user.access_token)["status"],
              "succeeded");
    const std::string instance = created.body["instance"]["uid"];
    const std::string domain_state =
        "SELECT state FROM host_domains WHERE host_id = " + host + " AND name = '" + instance + "'";
    ASSERT_TRUE(eventually([&] { return query_text(url, domain_state) == "running"; }));

    const std::string user_id =
        query_text(url, "SELECT id FROM users WHERE email = 'late@example.com'");
    const auto suspended =
        admin(api, ops.access_token, "PATCH", "/users/" + user_id, {{"status", "suspended"}});
    ASSERT_EQ(suspended.status, 200) << suspended.raw;
    EXPECT_TRUE(eventually([&] {
        const auto s = query_text(url, domain_state);
        return !s.empty() && s != "running";
    })) << query_text(url, domain_state);
    EXPECT_TRUE(eventually([&] {
        return query_text(url, "SELECT status FROM instances WHERE uid = '" + instance + "'") ==
               "stopped";
    }));
}
