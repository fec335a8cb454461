// Every customer route this coordinator serves, held to the Suble v3 OpenAPI document
// (tests/support/openapi_contract.hpp) on real parts: a coordinator process on PostgreSQL, with
// an agent on libvirt's test:/// driver where a route needs a running instance and the fake Stripe
// where it needs a card. For each route the document has: a valid call answers a documented
// status with the example's keys and types; every body the request schema refuses is a 400 with
// a documented code that writes nothing; an unknown id is the documented 404.
#include "coordinator/auth/totp.hpp"
#include "tests/fakes/fake_stripe.hpp"
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/fleet_fixture.hpp"
#include "tests/integration/test_helpers.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/openapi_contract.hpp"
#include "tests/support/smtp_sink.hpp"
#include "tests/support/temp_file.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>

#include <regex>

using namespace vpsfleet::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;
namespace contract = vpsfleet::testing::contract;

namespace {

// Where the product knowingly answers other than the document says. A mismatch line of
// `operation` that contains `detail` is let through; drop an entry once either side changes.
struct known_mismatch {
    const char* operation;
    const char* detail;
    const char* reason;
};

const known_mismatch k_known_mismatches[] = {
    // An unknown project is refused before the handler, as on every project route; the document
    // lists only the handler's rare read-back failure (not_found) or no 404 at all.
    {"GET /projects/{project}", "error code project_not_found",
     "the document's not_found is a read-back race; an unknown project is project_not_found"},
    {"GET /projects/{project}/instances", "the document lists only 200",
     "the document lists no 404; an unknown project is project_not_found as elsewhere"},
    // The document's 404 for these names only the project; an unknown instance, rule or job
    // is still a 404, with a code that says which.
    {"GET /projects/{project}/instances/{instance}/firewall", "error code instance_not_found",
     "the document names only project_not_found for 404"},
    {"PATCH /projects/{project}/instances/{instance}/firewall/{rule}", "error code rule_not_found",
     "the document names only project_not_found for 404"},
    {"DELETE /projects/{project}/instances/{instance}/firewall/{rule}", "error code rule_not_found",
     "the document names only project_not_found for 404"},
    {"GET /projects/{project}/jobs/{job}", "error code job_not_found",
     "the document names only project_not_found for 404"},
    // A malformed body is invalid_request on every route; these document only a business 400.
    {"POST /billing/promo", "error code invalid_request",
     "the document's 400 names only promo_inactive"},
    {"PUT /billing/settings", "error code invalid_request",
     "the document's 400 names only autorecharge_incomplete"},
    {"POST /auth/password/reset", "error code invalid_request",
     "the document's 400 names only invalid_token"},
    {"POST /projects", "error code invalid_request",
     "a body that is not an object or a category that is not a string; the document's 400 "
     "names only invalid_name"},
    // Confirming MFA answers the recovery codes, the only time they are shown (the document's 204
    // has no body to carry them).
    {"POST /account/mfa/confirm", "the document lists only 204",
     "200 with recoveryCodes: they exist only in this answer"},
    // The card list is read from Stripe, and payment_method_info does not carry Stripe's
    // `created` yet.
    {"GET /billing/payment-methods", "[0].createdAt is missing",
     "Stripe's card creation time is not read into payment_method_info"},
    // No app logos are hosted yet.
    {"GET /apps", "logo is null", "no app logos are hosted yet"},
    {"GET /apps/{slug}", "logo is null", "no app logos are hosted yet"},
    // As the document's second example shows, a template no instance was saved into has none.
    {"GET /projects/{project}/templates", "sourceInstanceName is missing",
     "a template saved from no instance has no source instance name"},
    {"PATCH /projects/{project}/templates/{template}", "sourceInstanceName is missing",
     "a template saved from no instance has no source instance name"},
    {"POST /projects/{project}/members", "error code invalid_request",
     "a body that is not an object; the document's 400 names only invalid_email"},
    {"POST /projects/{project}/members", "error code invalid_role",
     "a role that is not a string; the document's 400 names only invalid_email"},
    // Unknown plans and images are 404s that say which; the document's names only the instance.
    {"POST /projects/{project}/instances/{instance}/resize", "error code plan_not_found",
     "an unknown plan is plan_not_found, as when ordering"},
    {"POST /projects/{project}/instances/{instance}/ssh-key", "error code invalid_request",
     "a body that is not an object; the document's 400 names only invalid_key"},
    {"POST /projects/{project}/instances/{instance}/ssh-key", "error code guest_agent_unavailable",
     "the instance runs, but its guest has no agent to take the key (libvirt's test driver)"},
    // Credits never expire here, so there is no next expiry to name.
    {"GET /billing/overview", "creditNextExpiryAt is null", "credits never expire"},
};

std::vector<std::string> unexpected(std::vector<std::string> lines) {
    std::erase_if(lines, [](const std::string& line) {
        for (const auto& known : k_known_mismatches) {
            if (line.starts_with(std::string(known.operation) + " ") &&
                line.find(known.detail) != std::string::npos) {
                return true;
            }
        }
        return false;
    });
    return lines;
}

contract::operation document_op(const std::string& method, const std::string& path) {
    auto found = contract::find_operation(method, path);
    if (!found) throw std::runtime_error("the document has no " + method + " " + path);
    return *found;
}

// A fingerprint of every row of `tables` and of the audit trail, to show a refused request
// wrote nothing.
std::string table_state(const std::string& db, std::vector<std::string> tables) {
    tables.push_back("audit_log");
    std::string sql = "SELECT md5(concat_ws('#'";
    for (const auto& t : tables) {
        sql += ", (SELECT string_agg(t::text, '|' ORDER BY t::text) FROM " + t + " t)";
    }
    return query_text(db, sql + "))");
}

using params = std::map<std::string, std::string>;

// Calls routes as one caller (no token: anonymous) and holds each answer to the document.
struct contract_client {
    api_client api;
    std::string db;
    std::string token;

    api_reply send(const contract::operation& op, const params& p, const json& body,
                   const std::string& query = {}) const {
        return api.call(op.method, op.target(p) + query, body,
                        token.empty() ? http_headers{} : api_client::bearer(token));
    }

    // The answer must have `status` and agree with the document. `query`: "?name=value...".
    api_reply call(const std::string& method, const std::string& path, const params& p = {},
                   const json& body = nullptr, int status = 200,
                   const std::string& query = {}) const {
        const auto op = document_op(method, path);
        const auto r = send(op, p, body, query);
        EXPECT_EQ(r.status, status) << op.name() << " " << op.target(p) << ": " << r.raw;
        // A body that is not JSON (a PDF) is held to a string example.
        const json answer = r.body.is_null() && !r.raw.empty() ? json(r.raw) : r.body;
        const auto m = unexpected(contract::check_response(op, r.status, answer));
        EXPECT_TRUE(m.empty()) << contract::join(m);
        return r;
    }

    // Every body the schema refuses, each one defect away from `valid`: a 400 with a
    // documented code, and `tables` as they were.
    void refuses_bad_bodies(const std::string& method, const std::string& path, const params& p,
                            const json& valid, const std::vector<std::string>& tables) const {
        const auto op = document_op(method, path);
        const auto bodies = contract::rejected_bodies(op, valid);
        EXPECT_FALSE(bodies.empty()) << op.name();
        const std::string before = table_state(db, tables);
        for (const auto& bad : bodies) {
            const auto r = send(op, p, bad.body);
            EXPECT_EQ(r.status, 400) << op.name() << " when " << bad.why << ": " << r.raw;
            const auto m = unexpected(contract::check_response(op, r.status, r.body));
            EXPECT_TRUE(m.empty()) << "when " << bad.why << ": " << contract::join(m);
        }
        EXPECT_EQ(table_state(db, tables), before) << op.name() << ": a refused body wrote";
    }

    // An unknown id (or a body naming an unknown thing) answers 404 with the document's code.
    void unknown(const std::string& method, const std::string& path, const params& p,
                 const json& body = nullptr) const {
        call(method, path, p, body, 404);
    }
};

void wait_until_jobs_finish(const std::string& db) {
    EXPECT_TRUE(eventually([&] {
        return query_text(db, "SELECT count(*) FROM jobs WHERE state IN ('pending', 'running')") ==
               "0";
    })) << "jobs still running";
}

const std::string k_public_key =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g alex@laptop";

std::string totp_code(const std::string& base32_secret, int steps_ahead = 0) {
    namespace totp = vpsfleet::auth::totp;
    const auto key = *totp::base32_decode(base32_secret);
    return totp::code_at_step(key, totp::step_at(std::chrono::system_clock::now()) + steps_ahead);
}

// Anonymous routes (sign-up, sign-in) are called often here; the default limit is for people.
const std::string k_relaxed_limits = "api:\n  rate_limit:\n    anonymous: 100000\n";

// Accounts, projects, keys, the catalog and billing without cards: one coordinator that mails
// to a sink, with an operator to create promo codes.
class contract_accounts : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        smtp_ = new smtp_sink();
        db_ = new std::string(fresh_database());
        coordinator_ = new running_daemon(start_coordinator(
            *db_, k_relaxed_limits +
                      "  public_url: https://panel.example.com\nmail:\n  smtp_url: " +
                      smtp_->url() + "\n  from: noreply@example.com\n  poll_interval: 50ms\n"));
        ASSERT_EQ(wait_for_status("127.0.0.1", coordinator_->port, "/readyz", 200, 20s).status,
                  200);
    }
    static void TearDownTestSuite() {
        delete coordinator_;
        delete db_;
        delete smtp_;
    }

    api_client api() const { return api_client(coordinator_->port); }
    contract_client as(const std::string& token) const { return {api(), *db_, token}; }
    contract_client new_customer(const std::string& email) const {
        return as(sign_up(api(), email).access_token);
    }

    static inline smtp_sink* smtp_ = nullptr;
    static inline std::string* db_ = nullptr;
    static inline running_daemon* coordinator_ = nullptr;
};

}  // namespace

TEST_F(contract_accounts, sign_up_sign_in_refresh_and_password_reset) {
    const auto anyone = as("");
    const json signup = {{"email", "jane@example.com"},  {"password", "hunter2hunter2"},
                         {"fullname", "Jane Developer"}, {"country", "DK"},
                         {"isCompany", false},           {"language", "en"}};
    json other = signup;
    other["email"] = "refused@example.com";
    anyone.refuses_bad_bodies("POST", "/auth/signup", {}, other,
                              {"users", "projects", "refresh_tokens"});
    anyone.call("POST", "/auth/signup", {}, signup, 201);
    anyone.call("POST", "/auth/signup", {}, signup, 409);

    const json credentials = {{"email", "jane@example.com"}, {"password", "hunter2hunter2"}};
    anyone.refuses_bad_bodies("POST", "/auth/login", {}, credentials, {"users", "refresh_tokens"});
    const auto login = anyone.call("POST", "/auth/login", {}, credentials);
    anyone.call("POST", "/auth/login", {},
                {{"email", "jane@example.com"}, {"password", "not the password"}}, 401);

    const json refresh = {{"refresh_token", login.body.value("refresh_token", "")}};
    anyone.refuses_bad_bodies("POST", "/auth/refresh", {}, refresh, {"refresh_tokens"});
    anyone.call("POST", "/auth/refresh", {}, refresh);
    anyone.call("POST", "/auth/refresh", {}, {{"refresh_token", "not-a-token"}}, 401);

    const json forgot = {{"email", "jane@example.com"}};
    anyone.refuses_bad_bodies("POST", "/auth/password/forgot", {}, forgot,
                              {"password_reset_tokens"});
    anyone.call("POST", "/auth/password/forgot", {}, forgot, 204);
    // The sign-up's verification mail may still be on its way: the reset is found by subject.
    std::string mail;
    ASSERT_TRUE(eventually([&] {
        for (const auto& message : smtp_->messages()) {
            if (message.header("Subject") == "Reset your password") mail = message.body();
        }
        return !mail.empty();
    })) << "no reset mail";
    std::smatch m;
    ASSERT_TRUE(std::regex_search(mail, m, std::regex("token=([0-9a-f]{64})"))) << mail;

    const json reset = {{"token", m[1].str()}, {"password", "my-new-strong-password"}};
    anyone.refuses_bad_bodies("POST", "/auth/password/reset", {}, reset,
                              {"password_reset_tokens", "users"});
    anyone.call("POST", "/auth/password/reset", {}, reset, 204);
    anyone.call("POST", "/auth/password/reset", {}, reset, 400);  // used: invalid_token
}

TEST_F(contract_accounts, profile_ssh_keys_and_two_factor) {
    const auto me = new_customer("ada@example.com");
    me.call("GET", "/me");
    const json profile = {{"fullname", "Alexander Moeller"}, {"language", "en"}};
    me.refuses_bad_bodies("PATCH", "/account/profile", {}, profile, {"users"});
    me.call("PATCH", "/account/profile", {}, profile);

    const json key = {{"name", "laptop"}, {"public_key", k_public_key}};
    me.refuses_bad_bodies("POST", "/account/sshkeys", {}, key, {"account_ssh_keys"});
    const auto added = me.call("POST", "/account/sshkeys", {}, key, 201);
    me.call("POST", "/account/sshkeys", {}, key, 409);
    me.call("GET", "/account/sshkeys");
    me.unknown("DELETE", "/account/sshkeys/{key}", {{"key", "key_nothing"}});
    me.call("DELETE", "/account/sshkeys/{key}", {{"key", added.body["ssh_key"].value("uid", "")}},
            nullptr, 204);

    const auto enabled = me.call("POST", "/account/mfa/enable", {}, json::object());
    const std::string secret = enabled.body.value("secret", "");
    ASSERT_FALSE(secret.empty()) << enabled.raw;
    const std::vector<std::string> mfa_tables = {"users", "mfa_recovery_codes"};
    me.refuses_bad_bodies("POST", "/account/mfa/confirm", {}, {{"code", totp_code(secret)}},
                          mfa_tables);
    me.call("POST", "/account/mfa/confirm", {}, {{"code", totp_code(secret)}}, 200);
    me.call("POST", "/account/mfa/enable", {}, json::object(), 409);
    // The confirming code is spent; the next step's code disables.
    const json disable = {{"code", totp_code(secret, 1)}};
    me.refuses_bad_bodies("POST", "/account/mfa/disable", {}, disable, mfa_tables);
    me.call("POST", "/account/mfa/disable", {}, disable, 204);
}

TEST_F(contract_accounts, projects_api_keys_and_the_catalog) {
    const auto me = new_customer("projects@example.com");
    me.call("GET", "/plans");
    me.call("GET", "/images");

    const json project = {{"name", "Production"}, {"category", "business"}};
    me.refuses_bad_bodies("POST", "/projects", {}, project, {"projects"});
    const auto created = me.call("POST", "/projects", {}, project, 201);
    const std::string uid = created.body.value("uid", "");
    me.call("GET", "/projects");
    me.call("GET", "/projects/{project}", {{"project", uid}});
    me.unknown("GET", "/projects/{project}", {{"project", "prj_nothing"}});

    const params in_project = {{"project", uid}};
    const json key = {{"name", "CI deploy bot"}, {"permissions", 192}};
    me.refuses_bad_bodies("POST", "/projects/{project}/api-keys", in_project, key, {"api_keys"});
    const auto made = me.call("POST", "/projects/{project}/api-keys", in_project, key, 201);
    // Used once, so the list shows when.
    EXPECT_EQ(api().get("/api/v1/projects/" + uid, made.body.value("key", "")).status, 200);
    me.call("GET", "/projects/{project}/api-keys", in_project);
    me.unknown("GET", "/projects/{project}/api-keys", {{"project", "prj_nothing"}});
    me.unknown("DELETE", "/projects/{project}/api-keys/{key}",
               {{"project", uid}, {"key", "apk_nothing"}});
    me.call("DELETE", "/projects/{project}/api-keys/{key}",
            {{"project", uid}, {"key", made.body.value("uid", "")}}, nullptr, 204);
}

TEST_F(contract_accounts, members_apps_templates_and_limits) {
    const auto me = new_customer("team-owner@example.com");
    sign_up(api(), "team-dev@example.com");
    const std::string project = first_project(api(), me.token);
    const params in_project = {{"project", project}};

    me.call("GET", "/apps");
    me.call("GET", "/apps/{slug}", {{"slug", "coolify"}});
    me.unknown("GET", "/apps/{slug}", {{"slug", "no-such-app"}});

    const json member = {{"email", "team-dev@example.com"}};
    me.refuses_bad_bodies("POST", "/projects/{project}/members", in_project, member,
                          {"project_members"});
    me.unknown("POST", "/projects/{project}/members", in_project,
               {{"email", "nobody@example.com"}});
    me.call("POST", "/projects/{project}/members", in_project, member, 204);
    me.call("POST", "/projects/{project}/members", in_project, member, 409);
    me.call("GET", "/projects/{project}/members", in_project);
    const params the_member = {{"project", project}, {"email", "team-dev@example.com"}};
    me.call("PATCH", "/projects/{project}/members/{email}", the_member, {{"role", "member"}}, 204);
    me.call("DELETE", "/projects/{project}/members/{email}", the_member, nullptr, 204);

    exec_sql(*db_,
             "INSERT INTO templates (uid, project_id, name, image_id, size_gb, min_disk_gb, "
             "status) SELECT 'tpl_contract', p.id, 'golden', i.id, 10, 10, 'ready' FROM "
             "projects p, os_images i WHERE p.uid = '" +
                 project + "' AND i.uid = 'img_debian12'");
    me.call("GET", "/projects/{project}/templates", in_project);
    const params the_template = {{"project", project}, {"template", "tpl_contract"}};
    me.refuses_bad_bodies("PATCH", "/projects/{project}/templates/{template}", the_template,
                          {{"name", "gold"}}, {"templates"});
    me.call("PATCH", "/projects/{project}/templates/{template}", the_template, {{"name", "gold"}});
    me.unknown("DELETE", "/projects/{project}/templates/{template}",
               {{"project", project}, {"template", "tpl_nothing"}});
    me.call("DELETE", "/projects/{project}/templates/{template}", the_template, nullptr, 202);

    me.call("GET", "/account/limits");
    const json more = {{"quotaKey", "instances"}, {"requested", 20}, {"useCase", "CI runners"}};
    me.refuses_bad_bodies("POST", "/account/limit-requests", {}, more, {"limit_requests"});
    me.call("POST", "/account/limit-requests", {}, more, 201);
    me.call("GET", "/account/limit-requests");
}

TEST_F(contract_accounts, billing_details_settings_alerts_promo_codes_and_statements) {
    const auto boss = sign_up(api(), "boss@example.com");
    grant_role(*db_, boss.email, "super_admin");
    const auto promo =
        api().call("POST", "/api/admin/v1/promo_codes", {{"code", "WELCOME50"}, {"amount", 5000}},
                   api_client::bearer(boss.access_token));
    ASSERT_EQ(promo.status, 201) << promo.raw;

    const auto me = new_customer("payer@example.com");
    const json details = {{"isCompany", true},
                          {"name", "Jane Hansen ApS"},
                          {"email", "jane@example.com"},
                          {"street", "Vestergade 12"},
                          {"zipCode", "8000"},
                          {"city", "Aarhus"},
                          {"country", "DK"},
                          {"phone", "+4512345678"},
                          {"vatNumber", "DK12345678"},
                          {"eanNumber", "5790000000000"}};
    me.refuses_bad_bodies("PUT", "/billing/details", {}, details, {"users"});
    me.call("PUT", "/billing/details", {}, details, 204);
    me.call("GET", "/billing/details");

    const json settings = {{"autorechargeEnabled", true},
                           {"autorechargeTriggerOre", 5000},
                           {"autorechargeAmountOre", 100000},
                           {"suspendAcknowledged", true}};
    me.refuses_bad_bodies("PUT", "/billing/settings", {}, settings, {"credit_accounts"});
    me.call("PUT", "/billing/settings", {}, settings, 204);
    me.call("PUT", "/billing/settings", {}, {{"autorechargeEnabled", true}}, 400);
    me.call("GET", "/billing/settings");

    const json alert = {{"thresholdOre", 10000}};
    me.refuses_bad_bodies("POST", "/billing/alerts", {}, alert, {"billing_alerts"});
    me.call("POST", "/billing/alerts", {}, alert, 204);
    me.call("GET", "/billing/alerts");
    me.call("DELETE", "/billing/alerts/{thresholdOre}", {{"thresholdOre", "10000"}}, nullptr, 204);

    const json code = {{"code", "WELCOME50"}};
    me.refuses_bad_bodies("POST", "/billing/promo", {}, code,
                          {"promo_redemptions", "credit_entries"});
    me.call("POST", "/billing/promo", {}, code);
    me.call("POST", "/billing/promo", {}, code, 409);
    me.unknown("POST", "/billing/promo", {}, {{"code", "NOSUCHCODE"}});

    me.call("GET", "/billing/credits");
    me.call("GET", "/billing/usage");
    me.call("GET", "/billing/invoices");
    me.unknown("GET", "/billing/invoices/{uid}/pdf", {{"uid", "inv_nothing"}});
    // No card provider on this coordinator: the card routes say so in the document's words.
    me.call("GET", "/billing/payment-methods");
    me.call("POST", "/billing/payment-methods/stripe", {}, json::object(), 503);
    me.call("POST", "/billing/top-up", {}, {{"amountOre", 100000}}, 503);
}

// Cards through the fake Stripe: saving one, listing, making it the default, paying a top-up
// with it and removing it.
TEST(contract_payments, saved_cards_and_top_ups) {
    fake_stripe stripe;
    const temp_file ca(stripe.ca_pem(), ".pem");
    const std::string db = fresh_database();
    const auto coordinator = start_coordinator(
        db, "billing:\n  currency: DKK\n  stripe:\n    api_base: " + stripe.url() +
                "\n    secret_key: " + stripe.secret_key() +
                "\n    webhook_secret: " + stripe.webhook_secret() + "\n    ca_file: " + ca.path() +
                "\n    timeout: 5s\n    checkout_url: https://panel.example.com/pay\n");
    ASSERT_EQ(wait_for_status("127.0.0.1", coordinator.port, "/readyz", 200, 20s).status, 200);
    stripe.set_webhook_url("http://127.0.0.1:" + std::to_string(coordinator.port) +
                           "/api/v1/billing/webhooks/stripe");
    const api_client api(coordinator.port);
    const contract_client me{api, db, sign_up(api, "card@example.com").access_token};

    // Without a saved card a top-up sends the customer to pay.
    const json top_up = {{"amountOre", 100000}};
    me.refuses_bad_bodies("POST", "/billing/top-up", {}, top_up, {"payments", "credit_entries"});
    me.call("POST", "/billing/top-up", {}, top_up);

    const auto setup = me.call("POST", "/billing/payment-methods/stripe", {}, json::object());
    const std::string redirect = setup.body.value("redirectUrl", "");
    std::smatch m;
    ASSERT_TRUE(std::regex_search(redirect, m, std::regex("setup_intent=([A-Za-z0-9_]+)")))
        << redirect;
    // What Stripe.js does in the browser: confirm the intent with a card.
    const auto confirmed =
        run_command({"curl", "-sS", "--cacert", ca.path(), "-u", stripe.secret_key() + ":", "-d",
                     "payment_method=pm_card_visa",
                     stripe.url() + "/v1/setup_intents/" + m[1].str() + "/confirm"});
    ASSERT_EQ(confirmed.status, 0) << confirmed.output;
    ASSERT_TRUE(stripe.wait_for_webhooks());

    const auto cards = me.call("GET", "/billing/payment-methods");
    ASSERT_EQ(cards.body.size(), 1u) << cards.raw;
    const params card = {{"method", cards.body[0].value("uid", "")}};
    me.call("PUT", "/billing/payment-methods/{method}/default", card, nullptr, 204);
    me.unknown("PUT", "/billing/payment-methods/{method}/default", {{"method", "pm_nothing"}});
    me.call("GET", "/billing/overview");

    me.unknown("DELETE", "/billing/payment-methods/{method}", {{"method", "pm_nothing"}});
    me.call("DELETE", "/billing/payment-methods/{method}", card, nullptr, 204);
}

// Instances and what hangs off them, on a fleet with one libvirt test:/// host and prepaid
// billing (so the order is charged and invoiced).
TEST(contract_instances, instances_firewall_jobs_ip_ranges_and_invoices) {
    fleet_fixture fleet("billing:\n  prepaid: true\n  currency: DKK\n  tax_rates: [DK=2500]\n" +
                        k_relaxed_limits);
    auto agent = fleet.start_catalog_host_agent("hv-a");
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "online"));
    const std::string host = fleet.give_host_room("hv-a");
    const auto& db = fleet.database_url();
    // An address for the instance, so it has a primary_ip.
    exec_sql(db,
             "INSERT INTO ip_ranges (cidr, gateway, region_id) SELECT '192.0.2.0/30', "
             "'192.0.2.1', region_id FROM hosts WHERE id = " +
                 host);
    const api_client api(fleet.coordinator().port);
    const auto ops = sign_up(api, "ops@example.com");
    grant_role(db, ops.email, "super_admin");
    const auto admin = [&](const std::string& method, const std::string& path, const json& body) {
        return api.call(method, "/api/admin/v1" + path, body, api_client::bearer(ops.access_token));
    };

    const contract_client me{api, db, sign_up(api, "owner@example.com").access_token};
    const std::string user_id =
        query_text(db, "SELECT id FROM users WHERE email = 'owner@example.com'");
    exec_sql(db, "UPDATE users SET country = 'DK' WHERE id = " + user_id);
    const std::string project = first_project(api, me.token);
    const params in_project = {{"project", project}};
    const std::string instances = "/projects/{project}/instances";

    const json order = instance_order("web-01");
    me.call("POST", instances, in_project, order, 402);  // no credits yet
    ASSERT_EQ(admin("POST", "/users/" + user_id + "/credits",
                    {{"amount", 100'000}, {"note", "bank transfer"}})
                  .status,
              200);
    me.refuses_bad_bodies("POST", instances, in_project, order,
                          {"instances", "jobs", "credit_entries"});
    const auto created = me.call("POST", instances, in_project, order, 202);
    const std::string instance = created.body["instance"].value("uid", "");
    ASSERT_EQ(finished_job(api, project, created.body["job"].value("uid", ""), me.token)["status"],
              "succeeded");
    me.call("POST", instances, in_project, order, 409);
    me.unknown("POST", instances, in_project, instance_order("web-09", "xl-99"));
    me.call("GET", instances, in_project);
    me.unknown("GET", instances, {{"project", "prj_nothing"}});

    const std::string one = instances + "/{instance}";
    const params it = {{"project", project}, {"instance", instance}};
    const params nothing = {{"project", project}, {"instance", "ins_nothing"}};
    me.call("GET", one, it);
    me.unknown("GET", one, nothing);
    me.call("GET", one + "/events", it, nullptr, 200, "?limit=1");  // a page with more behind it
    me.unknown("GET", one + "/events", nothing);
    me.call("POST", one + "/password/acknowledge", it, nullptr, 204);
    me.unknown("POST", one + "/password/acknowledge", nothing);

    const json rename = {{"name", "web-02"}};
    me.refuses_bad_bodies("PATCH", one, it, rename, {"instances"});
    me.call("PATCH", one, it, rename);
    me.unknown("PATCH", one, nothing, rename);

    const std::string rules = one + "/firewall";
    const json rule = {{"direction", "in"}, {"action", "ACCEPT"},
                       {"proto", "tcp"},    {"source", "203.0.113.0/24"},
                       {"dport", "22"},     {"comment", "SSH from office"},
                       {"enabled", true}};
    me.refuses_bad_bodies("POST", rules, it, rule, {"firewall_rules"});
    const auto added = me.call("POST", rules, it, rule, 201);
    me.call("GET", rules, it);
    me.unknown("GET", rules, nothing);
    params the_rule = it;
    the_rule["rule"] = added.body.value("uid", "");
    params no_rule = it;
    no_rule["rule"] = "fwr_nothing";
    const json change = {{"enabled", false}, {"comment", "Temporarily disabled"}, {"position", 1}};
    me.refuses_bad_bodies("PATCH", rules + "/{rule}", the_rule, change, {"firewall_rules"});
    me.call("PATCH", rules + "/{rule}", the_rule, change);
    me.unknown("PATCH", rules + "/{rule}", no_rule, change);
    me.unknown("DELETE", rules + "/{rule}", no_rule);
    me.call("DELETE", rules + "/{rule}", the_rule, nullptr, 204);

    wait_until_jobs_finish(db);
    const json power = {{"type", "stop"}};
    me.refuses_bad_bodies("POST", one + "/actions", it, power, {"instances", "jobs"});
    me.call("POST", one + "/actions", it, {{"type", "start"}}, 409);  // it is running
    const auto stopped = me.call("POST", one + "/actions", it, power, 202);
    me.unknown("POST", one + "/actions", nothing, power);

    const std::string job = stopped.body["job"].value("uid", "");
    finished_job(api, project, job, me.token);
    me.call("GET", "/projects/{project}/jobs", in_project);
    me.unknown("GET", "/projects/{project}/jobs", {{"project", "prj_nothing"}});
    me.call("GET", "/projects/{project}/jobs/{job}", {{"project", project}, {"job", job}});
    me.unknown("GET", "/projects/{project}/jobs/{job}",
               {{"project", project}, {"job", "job_nothing"}});

    // Changes to the built instance, stopped now: a bigger plan, another image, a new password;
    // test:/// has no guest agent to take an SSH key.
    add_resize_plans(db);
    const json resize = {{"plan", "bxs-2-4s"}};
    me.refuses_bad_bodies("POST", one + "/resize", it, resize,
                          {"instances", "jobs", "host_allocations", "credit_entries"});
    me.unknown("POST", one + "/resize", nothing, resize);
    me.unknown("POST", one + "/resize", it, {{"plan", "xl-99"}});
    const auto resized = me.call("POST", one + "/resize", it, resize, 202);
    finished_job(api, project, resized.body.value("uid", ""), me.token);
    const json rebuild = {{"source", {{"image", "img_ubuntu2404"}}}, {"backup", false}};
    me.refuses_bad_bodies("POST", one + "/rebuild", it, rebuild, {"instances", "jobs"});
    me.unknown("POST", one + "/rebuild", nothing, rebuild);
    const auto rebuilt = me.call("POST", one + "/rebuild", it, rebuild, 202);
    me.call("POST", one + "/password", it, json::object(), 409);  // the rebuild is running
    finished_job(api, project, rebuilt.body.value("uid", ""), me.token);
    const json password = {{"password", "a-new-long-password"}};
    me.refuses_bad_bodies("POST", one + "/password", it, password, {"instances", "jobs"});
    me.unknown("POST", one + "/password", nothing, password);
    const auto reset = me.call("POST", one + "/password", it, password, 202);
    finished_job(api, project, reset.body.value("uid", ""), me.token);
    const json key = {{"publicKey", k_public_key}};
    me.refuses_bad_bodies("POST", one + "/ssh-key", it, key, {"instances"});
    me.unknown("POST", one + "/ssh-key", nothing, key);
    me.call("POST", one + "/ssh-key", it, key, 409);

    const auto range = admin(
        "POST", "/project_ip_ranges",
        {{"project_id",
          std::stoll(query_text(db, "SELECT id FROM projects WHERE uid = '" + project + "'"))},
         {"cidr", "185.246.88.0/24"},
         {"source", "colocation"},
         {"description", "Primary transit allocation (DK1)"}});
    ASSERT_EQ(range.status, 201) << range.raw;
    me.call("GET", "/projects/{project}/ip-ranges", in_project);
    me.unknown("GET", "/projects/{project}/ip-ranges", {{"project", "prj_nothing"}});

    // The order was charged and invoiced.
    me.call("GET", "/billing/usage");
    me.call("GET", "/billing/credits");
    const auto invoices = me.call("GET", "/billing/invoices");
    ASSERT_FALSE(invoices.body.empty()) << invoices.raw;
    const auto pdf =
        me.call("GET", "/billing/invoices/{uid}/pdf", {{"uid", invoices.body[0].value("uid", "")}});
    EXPECT_EQ(pdf.raw.rfind("%PDF-", 0), 0u);

    const auto removed = me.call("DELETE", one, it, nullptr, 202);
    me.unknown("DELETE", one, nothing);
    finished_job(api, project, removed.body["job"].value("uid", ""), me.token);
}
