// Admin API companies and reports (LNVPS "Company Management", "Reports") on a real coordinator
// and PostgreSQL: AdminCompanyInfo CRUD with its refusals writing nothing, regions held to
// companies that exist, a company in use kept, the time-series and referral reports over the VM
// payments the product makes (billing::pay_period_from_credits, with their invoices and tax), and
// invoices issued in the name of the company of the VM's region.
#include "coordinator/billing/ledger.hpp"
#include "coordinator/billing/prepaid.hpp"
#include "coordinator/store/migrations.hpp"
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/test_helpers.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/temp_file.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

using namespace vpsfleet::testing;
using json = nlohmann::json;
namespace billing = vpsfleet::billing;

namespace {

bool is_admin_error(const api_reply& r) {
    return r.body.is_object() && r.body.size() == 1 && r.body["error"].is_string();
}

json acme_body() {
    return {{"name", "Acme Hosting GmbH"},
            {"address_1", "Hauptstrasse 1"},
            {"address_2", ""},
            {"city", "Wien"},
            {"state", "Wien"},
            {"country_code", "at"},
            {"tax_id", "ATU12345678"},
            {"base_currency", "eur"},
            {"postcode", "1010"},
            {"phone", "+43 1 234567"},
            {"email", "billing@acme.example"}};
}

std::string company_path(std::int64_t id) { return "/companies/" + std::to_string(id); }

std::int64_t create(const admin_world& w, const std::string& path, const json& body) {
    const auto r = w.call("POST", path, body);
    EXPECT_EQ(r.status, 201) << path << ": " << r.raw;
    return r.body["data"].value("id", std::int64_t{0});
}

}  // namespace

TEST(admin_companies, crud_follows_the_document_and_refusals_write_nothing) {
    admin_world w;
    for (const auto& [field, value] :
         std::vector<std::pair<std::string, json>>{{"name", nullptr},
                                                   {"name", ""},
                                                   {"name", "   "},
                                                   {"name", 5},
                                                   {"name", std::string(201, 'x')},
                                                   {"base_currency", nullptr},
                                                   {"base_currency", "DKK"},
                                                   {"base_currency", "EURO"},
                                                   {"country_code", "Austria"},
                                                   {"country_code", "A1"},
                                                   {"email", "billing"},
                                                   {"city", 7},
                                                   {"phone", json::array()}}) {
        json body = acme_body();
        body[field] = value;
        const auto r = w.call("POST", "/companies", body);
        EXPECT_EQ(r.status, 400) << field << "=" << value << ": " << r.raw;
        EXPECT_TRUE(is_admin_error(r)) << r.raw;
    }
    auto r = w.call("POST", "/companies", {{"name", "X"}, {"base_currency", "DKK"}});
    EXPECT_EQ(r.body["error"],
              "base_currency 'DKK' is not supported; valid currencies: EUR, USD, GBP, CAD, CHF, "
              "AUD, JPY, BTC");
    r = w.call("POST", "/companies", acme_body(), w.viewer);
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(r.body, json({{"error", "missing permission: company::create"}}));
    EXPECT_EQ(w.query("SELECT count(*) FROM companies"), "0") << "refusals wrote nothing";
    EXPECT_EQ(w.query("SELECT count(*) FROM audit_log WHERE target_type = 'company'"), "0");

    r = w.call("POST", "/companies", acme_body());
    ASSERT_EQ(r.status, 201) << r.raw;
    json acme = r.body["data"];
    const auto id = acme["id"].get<std::int64_t>();
    EXPECT_TRUE(acme["created"].is_string());
    acme.erase("created");
    EXPECT_EQ(acme, json({{"id", id},
                          {"name", "Acme Hosting GmbH"},
                          {"address_1", "Hauptstrasse 1"},
                          {"address_2", nullptr},
                          {"city", "Wien"},
                          {"state", "Wien"},
                          {"country_code", "AT"},
                          {"tax_id", "ATU12345678"},
                          {"base_currency", "EUR"},
                          {"postcode", "1010"},
                          {"phone", "+43 1 234567"},
                          {"email", "billing@acme.example"},
                          {"region_count", 0}}));
    const json made = r.body["data"];
    EXPECT_EQ(w.call("GET", company_path(id), nullptr, w.viewer).body, json({{"data", made}}));
    r = w.call("GET", "/companies/999999");
    EXPECT_EQ(r.status, 404);
    EXPECT_TRUE(is_admin_error(r)) << r.raw;

    // Only the required fields: everything else is null.
    r = w.call("POST", "/companies", {{"name", "Beta Ltd"}, {"base_currency", "GBP"}});
    ASSERT_EQ(r.status, 201) << r.raw;
    const json beta = r.body["data"];
    EXPECT_EQ(beta["address_1"], nullptr);
    EXPECT_EQ(beta["email"], nullptr);
    EXPECT_EQ(beta["base_currency"], "GBP");

    r = w.call("GET", "/companies", nullptr, w.viewer);
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body, json({{"data", {made, beta}}, {"total", 2}, {"limit", 50}, {"offset", 0}}));
    r = w.call("GET", "/companies?limit=1&offset=1");
    EXPECT_EQ(r.body, json({{"data", {beta}}, {"total", 2}, {"limit", 1}, {"offset", 1}}));
    EXPECT_EQ(w.call("GET", "/companies?limit=500").body["limit"], 100);
    EXPECT_EQ(w.call("GET", "/companies?limit=-1").status, 400);

    // PATCH: refusals change nothing; empty strings and null clear; the rest stays.
    for (const auto& body :
         {json{{"name", ""}}, json{{"name", nullptr}}, json{{"base_currency", "XYZ"}},
          json{{"base_currency", ""}}, json{{"country_code", "Austria"}}, json{{"city", 1}}}) {
        r = w.call("PATCH", company_path(id), body);
        EXPECT_EQ(r.status, 400) << body << ": " << r.raw;
        EXPECT_TRUE(is_admin_error(r)) << r.raw;
    }
    r = w.call("PATCH", company_path(id), {{"name", ""}});
    EXPECT_EQ(r.body["error"], "name cannot be empty");
    r = w.call("PATCH", company_path(id), {{"base_currency", "XYZ"}});
    EXPECT_NE(r.body["error"].get<std::string>().find("EUR, USD, GBP, CAD, CHF, AUD, JPY, BTC"),
              std::string::npos)
        << r.raw;
    EXPECT_EQ(w.call("PATCH", company_path(id), {{"city", "Graz"}}, w.viewer).status, 403);
    EXPECT_EQ(w.call("PATCH", "/companies/999999", {{"city", "Graz"}}).status, 404);
    EXPECT_EQ(w.call("GET", company_path(id)).body["data"], made) << "refusals changed nothing";

    r = w.call(
        "PATCH", company_path(id),
        {{"city", ""}, {"phone", nullptr}, {"tax_id", "ATU87654321"}, {"base_currency", "usd"}});
    ASSERT_EQ(r.status, 200) << r.raw;
    json expected = made;
    expected["city"] = nullptr;
    expected["phone"] = nullptr;
    expected["tax_id"] = "ATU87654321";
    expected["base_currency"] = "USD";
    EXPECT_EQ(r.body["data"], expected);
    EXPECT_EQ(w.call("GET", company_path(id)).body["data"], expected);

    // Regions name companies that exist; a company with regions is kept.
    const auto regions_before = w.query("SELECT count(*) FROM regions");
    r = w.call("POST", "/regions", {{"name", "eu-west"}, {"company_id", 999999}});
    EXPECT_EQ(r.status, 400) << r.raw;
    EXPECT_EQ(r.body, json({{"error", "company 999999 does not exist"}}));
    EXPECT_EQ(w.query("SELECT count(*) FROM regions"), regions_before);
    r = w.call("PATCH", "/regions/1", {{"company_id", 999999}});
    EXPECT_EQ(r.status, 400) << r.raw;
    EXPECT_TRUE(is_admin_error(r));
    EXPECT_EQ(w.query("SELECT company_id FROM regions WHERE id = 1"), "");

    const auto region = create(w, "/regions", {{"name", "eu-west"}, {"company_id", id}});
    EXPECT_EQ(w.call("GET", company_path(id)).body["data"]["region_count"], 1);
    r = w.call("DELETE", company_path(id));
    EXPECT_EQ(r.status, 409) << r.raw;
    EXPECT_EQ(
        r.body,
        json({{"error", "the company still has 1 region; reassign or remove its regions first"}}));
    EXPECT_EQ(w.call("DELETE", company_path(id), nullptr, w.viewer).status, 403);
    EXPECT_EQ(w.call("GET", company_path(id)).body["data"], [&] {
        json e = expected;
        e["region_count"] = 1;
        return e;
    }());

    r = w.call("PATCH", "/regions/" + std::to_string(region), {{"company_id", nullptr}});
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["data"]["company_id"], nullptr);
    r = w.call("DELETE", company_path(id));
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body, json({{"data", nullptr}}));
    EXPECT_EQ(w.call("GET", company_path(id)).status, 404);
    EXPECT_EQ(w.call("DELETE", company_path(id)).status, 404);

    EXPECT_EQ(w.query("SELECT string_agg(action, ',' ORDER BY id) FROM audit_log WHERE "
                      "target_type = 'company'"),
              "company.create,company.create,company.update,company.delete");
    EXPECT_EQ(w.query("SELECT after->>'name' FROM audit_log WHERE action = 'company.create' "
                      "ORDER BY id LIMIT 1"),
              "Acme Hosting GmbH");
}

// regions.company_id existed before companies did: what it held is cleared, then it is a real
// foreign key.
TEST(admin_companies, the_migration_clears_region_company_ids_that_name_nothing) {
    const auto url = fresh_database();
    pqxx::connection conn(url);
    const auto& all = vpsfleet::store::embedded_migrations();
    const auto companies = std::ranges::find_if(
        all, [](const auto& m) { return m.name.starts_with("0030_companies"); });
    ASSERT_NE(companies, all.end());
    vpsfleet::store::apply_migrations(
        conn, std::vector<vpsfleet::store::migration>(all.begin(), companies));
    exec_sql(url, "INSERT INTO regions (name, company_id) VALUES ('old', 42)");
    vpsfleet::store::apply_migrations(conn, all);
    EXPECT_EQ(query_text(url, "SELECT count(*) FROM regions WHERE company_id IS NOT NULL"), "0");
    EXPECT_EQ(query_text(url, "SELECT count(*) FROM regions WHERE name = 'old'"), "1");
    EXPECT_THROW(exec_sql(url, "UPDATE regions SET company_id = 42 WHERE name = 'old'"),
                 pqxx::foreign_key_violation);
}

namespace {

// Two companies with a region and a host each, a region without a company, and customers whose
// VMs on those hosts are paid a month at a time from credits as the product pays them.
struct report_world : admin_world {
    std::int64_t acme = 0;
    std::int64_t other = 0;
    std::int64_t acme_host = 0, other_host = 0, plain_host = 0;

    report_world() {
        acme = create(*this, "/companies", acme_body());
        other = create(*this, "/companies", {{"name", "Other Inc"}, {"base_currency", "USD"}});
        acme_host =
            host("hv-acme", create(*this, "/regions", {{"name", "eu"}, {"company_id", acme}}));
        other_host =
            host("hv-other", create(*this, "/regions", {{"name", "us"}, {"company_id", other}}));
        plain_host = host("hv-plain", 1);
        // bxs-1 is sold in euros (10.00 a month); bxs-2-4 stays in kroner (80.00 a month).
        exec_sql(db,
                 "UPDATE cost_plans SET currency = 'EUR', amount = 1000 WHERE id = "
                 "(SELECT cost_plan_id FROM plans WHERE code = 'bxs-1')");
    }

    std::int64_t insert(const std::string& sql) const {
        pqxx::connection conn(db);
        pqxx::work tx(conn);
        const auto id = tx.exec1(sql)[0].as<std::int64_t>();
        tx.commit();
        return id;
    }

    std::int64_t host(const std::string& name, std::int64_t region) const {
        return insert("INSERT INTO hosts (name, region_id) VALUES ('" + name + "', " +
                      std::to_string(region) + ") RETURNING id");
    }

    // A signed-up Danish customer with credits in `currency`.
    signed_up customer(const std::string& email, const std::string& currency) const {
        auto account = sign_up(api, email);
        pqxx::connection conn(db);
        pqxx::work tx(conn);
        const auto user = user_id(email);
        tx.exec_params("UPDATE users SET country = 'DK' WHERE id = $1", user);
        billing::open_account(tx, user, currency);
        billing::post(tx, {user, "topup", 1'000'000, currency, "test top-up"});
        tx.commit();
        return account;
    }

    std::int64_t vm(const std::string& owner, const std::string& name, const std::string& plan,
                    std::int64_t host_id) const {
        return insert(
            "INSERT INTO instances (uid, project_id, name, plan_id, image_id, libvirt_uuid, "
            "mac, host_id, status) SELECT 'ins_' || '" +
            name + "', p.id, '" + name + "', (SELECT id FROM plans WHERE code = '" + plan +
            "'), (SELECT min(id) FROM os_images), gen_random_uuid(), '52:54:00:00:00:01', " +
            std::to_string(host_id) +
            ", 'running' FROM projects p JOIN users u ON u.id = p.owner_user_id WHERE "
            "u.email = '" +
            owner + "' ORDER BY p.id LIMIT 1 RETURNING id");
    }

    // One period paid from the owner's credits, with 25 % Danish VAT; the payment's uid.
    std::string pay(std::int64_t vm_id, const std::string& currency) const {
        pqxx::connection conn(db);
        pqxx::work tx(conn);
        billing::tax_rates taxes;
        taxes.by_country["DK"] = 2500;
        const auto paid = billing::pay_period_from_credits(
            tx, vm_id, std::chrono::system_clock::now(), currency, "test period", taxes);
        tx.commit();
        return paid.payment_uid;
    }

    std::string payment(const std::string& uid, const std::string& expr) const {
        return query("SELECT " + expr + " FROM payments WHERE uid = '" + uid + "'");
    }
    std::string iso(const std::string& uid, const std::string& column) const {
        return payment(
            uid, "to_char(" + column + " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')");
    }
    std::string today() const {
        return query("SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD')");
    }
    api_reply report(const std::string& query_string, const std::string& token = {}) const {
        return call("GET", "/reports/time-series?" + query_string, nullptr, token);
    }
    std::string range(const std::string& from, const std::string& to, std::int64_t company) const {
        return "start_date=" + from + "&end_date=" + to + "&company_id=" + std::to_string(company);
    }
    // The invoice's PDF as its owner downloads it, as text.
    std::string invoice_text(const std::string& payment_uid, const std::string& token) const {
        const auto uid = query(
            "SELECT uid FROM invoices WHERE idempotency_key = 'vm-period:" + payment_uid + "'");
        const auto pdf = api.get("/api/v1/billing/invoices/" + uid + "/pdf", token);
        EXPECT_EQ(pdf.status, 200) << pdf.raw;
        const temp_file file(pdf.raw, ".pdf");
        return run_command({"pdftotext", file.path(), "-"}).output;
    }
};

}  // namespace

TEST(admin_reports, time_series_lists_the_company_s_vm_payments_with_their_tax) {
    report_world w;
    const auto euro = w.customer("euro@example.com", "EUR");
    const auto krone = w.customer("krone@example.com", "DKK");
    const auto web = w.vm(euro.email, "web", "bxs-1", w.acme_host);
    const auto database = w.vm(krone.email, "db", "bxs-2-4", w.acme_host);
    const auto elsewhere = w.vm(euro.email, "elsewhere", "bxs-1", w.other_host);
    const auto plain = w.vm(euro.email, "plain", "bxs-1", w.plain_host);

    const auto march = w.pay(web, "EUR");
    // The first month was paid on the last second of 2025-03-01 (UTC).
    exec_sql(w.db,
             "UPDATE payments SET created_at = '2025-03-01T23:59:59Z' WHERE uid = '" + march + "'");
    const auto now = w.pay(web, "EUR");
    const auto kroner = w.pay(database, "DKK");
    w.pay(elsewhere, "EUR");
    w.pay(plain, "EUR");
    const auto today = w.today();

    auto r = w.report(w.range(today, today, w.acme));
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["data"]["start_date"], today);
    EXPECT_EQ(r.body["data"]["end_date"], today);
    ASSERT_EQ(r.body["data"]["payments"].size(), 1u) << r.raw;
    EXPECT_EQ(r.body["data"]["payments"][0],
              json({{"id", now},
                    {"vm_id", web},
                    {"created", w.iso(now, "created_at")},
                    {"expires", w.iso(now, "expires_at")},
                    {"amount", 1250},
                    {"currency", "EUR"},
                    {"payment_method", "credits"},
                    {"external_id", w.payment(now, "external_id")},
                    {"is_paid", true},
                    {"rate", 1.0},
                    {"time_value", std::stoll(w.payment(now, "time_value"))},
                    {"tax", 250},
                    {"company_id", w.acme},
                    {"company_name", "Acme Hosting GmbH"},
                    {"company_base_currency", "EUR"}}));
    EXPECT_GE(r.body["data"]["payments"][0]["time_value"], 28 * 86400);

    // Payments in another currency only when asked for, and not converted (no rate).
    r = w.report(w.range(today, today, w.acme) + "&currency=dkk");
    ASSERT_EQ(r.status, 200) << r.raw;
    ASSERT_EQ(r.body["data"]["payments"].size(), 1u) << r.raw;
    const json dkk = r.body["data"]["payments"][0];
    EXPECT_EQ(dkk["id"], kroner);
    EXPECT_EQ(dkk["vm_id"], database);
    EXPECT_EQ(dkk["amount"], 10'000);
    EXPECT_EQ(dkk["tax"], 2'000);
    EXPECT_EQ(dkk["currency"], "DKK");
    EXPECT_EQ(dkk["rate"], nullptr);
    EXPECT_EQ(dkk["company_base_currency"], "EUR");

    // Both ends of the range are whole UTC days.
    r = w.report(w.range("2025-02-01", "2025-03-01", w.acme));
    ASSERT_EQ(r.status, 200) << r.raw;
    ASSERT_EQ(r.body["data"]["payments"].size(), 1u) << r.raw;
    EXPECT_EQ(r.body["data"]["payments"][0]["id"], march);
    EXPECT_EQ(r.body["data"]["payments"][0]["created"], "2025-03-01T23:59:59.000Z");
    r = w.report(w.range("2025-03-02", "2025-12-31", w.acme));
    EXPECT_EQ(r.body["data"]["payments"], json::array());
    r = w.report(w.range("2025-01-01", today, w.acme), w.viewer);
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["data"]["payments"].size(), 2u);
    r = w.report(w.range(today, today, w.other));
    ASSERT_EQ(r.body["data"]["payments"].size(), 0u) << "Other Inc sells in USD: " << r.raw;
    r = w.report(w.range(today, today, w.other) + "&currency=EUR");
    ASSERT_EQ(r.body["data"]["payments"].size(), 1u) << r.raw;
    EXPECT_EQ(r.body["data"]["payments"][0]["vm_id"], elsewhere);
    EXPECT_EQ(r.body["data"]["payments"][0]["company_name"], "Other Inc");

    for (const auto& bad : std::vector<std::string>{
             "end_date=2025-01-01&company_id=1", "start_date=2025-01-01&company_id=1",
             "start_date=2025-01-01&end_date=2025-01-31",
             w.range("2025-02-30", "2025-03-01", w.acme),
             w.range("2025/01/01", "2025-03-01", w.acme),
             w.range("2025-03-02", "2025-03-01", w.acme),
             "start_date=2025-01-01&end_date=2025-01-31&company_id=abc",
             w.range("2025-01-01", "2025-01-31", w.acme) + "&currency=EURO"}) {
        r = w.report(bad);
        EXPECT_EQ(r.status, 400) << bad << ": " << r.raw;
        EXPECT_TRUE(is_admin_error(r)) << r.raw;
    }
    r = w.report(w.range("2025-01-01", "2025-01-31", 999999));
    EXPECT_EQ(r.status, 404) << r.raw;
    EXPECT_TRUE(is_admin_error(r)) << r.raw;
    r = w.report(w.range(today, today, w.acme), euro.access_token);
    EXPECT_EQ(r.status, 403) << r.raw;

    // Referred VMs: each one's first paid period, at the rate it can honestly be given.
    exec_sql(w.db, "UPDATE instances SET ref_code = 'PROMO' WHERE id = " + std::to_string(web));
    exec_sql(w.db, "UPDATE instances SET ref_code = 'FRIEND' WHERE id IN (" +
                       std::to_string(database) + ", " + std::to_string(elsewhere) + ")");
    r = w.call("GET",
               "/reports/referral-usage/time-series?" + w.range("2025-01-01", today, w.acme));
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["data"]["referrals"], json({{{"vm_id", web},
                                                  {"ref_code", "PROMO"},
                                                  {"created", "2025-03-01T23:59:59.000Z"},
                                                  {"amount", 1250},
                                                  {"currency", "EUR"},
                                                  {"rate", 1.0},
                                                  {"base_currency", "EUR"}},
                                                 {{"vm_id", database},
                                                  {"ref_code", "FRIEND"},
                                                  {"created", w.iso(kroner, "created_at")},
                                                  {"amount", 10'000},
                                                  {"currency", "DKK"},
                                                  {"rate", nullptr},
                                                  {"base_currency", "EUR"}}}));
    r = w.call("GET", "/reports/referral-usage/time-series?" + w.range(today, today, w.acme) +
                          "&ref_code=FRIEND");
    ASSERT_EQ(r.body["data"]["referrals"].size(), 1u) << r.raw;
    EXPECT_EQ(r.body["data"]["referrals"][0]["vm_id"], database);
    r = w.call("GET", "/reports/referral-usage/time-series?" + w.range(today, today, w.acme) +
                          "&ref_code=NOPE");
    EXPECT_EQ(r.body["data"]["referrals"], json::array());
    EXPECT_EQ(w.call("GET", "/reports/referral-usage/time-series?start_date=2025-01-01").status,
              400);
}

TEST(admin_reports, invoices_name_the_company_of_the_vm_s_region_as_it_was_at_issue) {
    report_world w;
    const auto euro = w.customer("euro@example.com", "EUR");
    const auto web = w.vm(euro.email, "web", "bxs-1", w.acme_host);
    const auto plain = w.vm(euro.email, "plain", "bxs-1", w.plain_host);
    const auto unplaced = w.vm(euro.email, "unplaced", "bxs-1", w.plain_host);
    exec_sql(w.db, "UPDATE instances SET host_id = NULL WHERE id = " + std::to_string(unplaced));

    const auto acme_paid = w.pay(web, "EUR");
    auto text = w.invoice_text(acme_paid, euro.access_token);
    for (const std::string expected :
         {"Acme Hosting GmbH", "Hauptstrasse 1", "1010 Wien", "AT", "VAT ID: ATU12345678",
          "billing@acme.example", "Phone: +43 1 234567", "12.50 EUR"}) {
        EXPECT_NE(text.find(expected), std::string::npos) << expected << " in:\n" << text;
    }
    EXPECT_EQ(text.find("vpsfleet"), std::string::npos) << text;
    EXPECT_EQ(w.query("SELECT seller_company_id FROM invoices WHERE idempotency_key = "
                      "'vm-period:" +
                      acme_paid + "'"),
              std::to_string(w.acme));

    // Outside a company's region, or before the VM has a host while the regions belong to
    // different companies or none: the configured seller.
    for (const auto vm_id : {plain, unplaced}) {
        text = w.invoice_text(w.pay(vm_id, "EUR"), euro.access_token);
        EXPECT_NE(text.find("vpsfleet"), std::string::npos) << text;
        EXPECT_EQ(text.find("Acme"), std::string::npos) << text;
    }

    // The company moves and renames: the invoice already issued keeps what it said.
    ASSERT_EQ(w.call("PATCH", company_path(w.acme),
                     {{"name", "Acme Cloud AG"}, {"address_1", "Ringstrasse 9"}, {"phone", ""}})
                  .status,
              200);
    text = w.invoice_text(acme_paid, euro.access_token);
    EXPECT_NE(text.find("Acme Hosting GmbH"), std::string::npos) << text;
    EXPECT_NE(text.find("Phone: +43 1 234567"), std::string::npos) << text;
    EXPECT_EQ(text.find("Acme Cloud AG"), std::string::npos) << text;
    text = w.invoice_text(w.pay(web, "EUR"), euro.access_token);
    EXPECT_NE(text.find("Acme Cloud AG"), std::string::npos) << text;
    EXPECT_NE(text.find("Ringstrasse 9"), std::string::npos) << text;
    EXPECT_EQ(text.find("Phone:"), std::string::npos) << text;

    // A VM with no host yet in a fleet whose regions all belong to one company: that company.
    exec_sql(w.db, "UPDATE regions SET company_id = " + std::to_string(w.acme));
    text = w.invoice_text(w.pay(unplaced, "EUR"), euro.access_token);
    EXPECT_NE(text.find("Acme Cloud AG"), std::string::npos) << text;
}
