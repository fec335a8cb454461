// Admin API (LNVPS shapes) for users, OS images, VM templates, cost plans and VMs on a real
// coordinator and PostgreSQL: each resource's create/read/update/delete, refusals in the admin
// error shape that change nothing, deletes refused while in use, permissions, the customer
// catalog following the admin's changes, and the VM view and history of a customer's order.
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/test_helpers.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

using namespace vpsfleet::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

// A customer's order through the customer API; returns the instance uid.
std::string order(const api_client& api, const std::string& token, const std::string& name,
                  const std::string& plan_code) {
    const auto r = api.post("/api/v1/projects/" + first_project(api, token) + "/instances",
                            instance_order(name, plan_code), token);
    EXPECT_EQ(r.status, 202) << r.raw;
    return r.body["instance"].value("uid", "");
}

json customer_plan(const api_client& api, const std::string& token, const std::string& code) {
    const auto reply = api.get("/api/v1/plans", token);
    for (const auto& p : reply.body["plans"]) {
        if (p["code"] == code) return p;
    }
    return nullptr;
}

bool is_admin_error(const api_reply& r) {
    return r.body.is_object() && r.body.size() == 1 && r.body["error"].is_string();
}

}  // namespace

TEST(admin_catalog, os_images_crud_validation_and_customer_view) {
    admin_world w;
    auto r = w.call("GET", "/vm_os_images?limit=1");
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["total"], 2);
    EXPECT_EQ(r.body["limit"], 1);
    EXPECT_EQ(r.body["data"][0], json({{"id", 1},
                                       {"distribution", "ubuntu"},
                                       {"flavour", "server"},
                                       {"version", "24.04"},
                                       {"enabled", true},
                                       {"release_date", "2024-04-25T00:00:00.000Z"},
                                       {"url",
                                        "https://cloud-images.ubuntu.com/noble/current/"
                                        "noble-server-cloudimg-amd64.img"},
                                       {"default_username", "ubuntu"},
                                       {"active_vm_count", 0}}));

    const json good = {{"distribution", "fedora"},
                       {"flavour", "cloud"},
                       {"version", "40"},
                       {"enabled", true},
                       {"release_date", "2024-04-23T12:00:00+02:00"},
                       {"url", "https://example.org/fedora/Fedora-Cloud-Base-40.qcow2"}};
    for (const auto& [field, value] :
         std::vector<std::pair<std::string, json>>{{"distribution", "windows"},
                                                   {"release_date", "2024-02-30"},
                                                   {"release_date", "yesterday"},
                                                   {"url", "ftp://example.org/x.img"},
                                                   {"url", "https://example.org/"},
                                                   {"version", "8.x"},
                                                   {"flavour", ""},
                                                   {"default_username", "Root User"},
                                                   {"enabled", "yes"}}) {
        json body = good;
        body[field] = value;
        r = w.call("POST", "/vm_os_images", body);
        EXPECT_EQ(r.status, 400) << field << "=" << value << ": " << r.raw;
        EXPECT_TRUE(is_admin_error(r)) << r.raw;
    }
    EXPECT_EQ(w.call("POST", "/vm_os_images", {{"distribution", "fedora"}}).status, 400);
    EXPECT_EQ(w.query("SELECT count(*) FROM os_images"), "2") << "refused creates left nothing";

    r = w.call("POST", "/vm_os_images", good);
    ASSERT_EQ(r.status, 201) << r.raw;
    const auto id = r.body["data"]["id"].get<std::int64_t>();
    const std::string path = "/vm_os_images/" + std::to_string(id);
    EXPECT_EQ(r.body["data"]["release_date"], "2024-04-23T10:00:00.000Z");
    EXPECT_EQ(r.body["data"]["default_username"], "fedora") << "the distribution's cloud user";
    EXPECT_EQ(w.query("SELECT source_volume FROM os_images WHERE id = " + std::to_string(id)),
              "Fedora-Cloud-Base-40.qcow2");
    auto images = w.api.get("/api/v1/images", w.boss).body["images"];
    EXPECT_NE(images.dump().find("\"Fedora 40 Cloud\""), std::string::npos) << images.dump();

    r = w.call("PATCH", path, {{"enabled", false}}, w.viewer);
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(r.body, json({{"error", "missing permission: vm_os_image::update"}}));
    EXPECT_EQ(w.call("GET", path, nullptr, w.viewer).status, 200);
    EXPECT_EQ(w.call("PATCH", path, {{"distribution", "beos"}}).status, 400);
    r = w.call("PATCH", path,
               {{"enabled", false}, {"version", "41"}, {"default_username", "core"}});
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["data"]["enabled"], false);
    EXPECT_EQ(r.body["data"]["version"], "41");
    EXPECT_EQ(r.body["data"]["default_username"], "core");
    images = w.api.get("/api/v1/images", w.boss).body["images"];
    EXPECT_EQ(images.dump().find("Fedora"), std::string::npos) << "disabled images are not sold";

    EXPECT_EQ(w.call("DELETE", path, nullptr, w.viewer).status, 403);
    EXPECT_EQ(w.call("DELETE", path).status, 200);
    EXPECT_EQ(w.call("GET", path).status, 404);
    EXPECT_EQ(w.call("PATCH", path, {{"enabled", true}}).status, 404);
    EXPECT_EQ(w.call("GET", "/vm_os_images").body["total"], 2);
    EXPECT_EQ(w.query("SELECT string_agg(action, ',' ORDER BY id) FROM audit_log "
                      "WHERE target_type = 'os_image'"),
              "os_image.create,os_image.update,os_image.delete");
}

TEST(admin_catalog, templates_and_cost_plans_price_the_customer_catalog) {
    admin_world w;
    // Seeded plans came with cost plans of their own monthly price.
    auto r = w.call("GET", "/vm_templates");
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["total"], 3);
    EXPECT_EQ(r.body["data"][0]["name"], "BXS 1");
    EXPECT_EQ(r.body["data"][0]["memory"], 2048LL << 20);
    EXPECT_EQ(r.body["data"][0]["disk_size"], 40LL << 30);
    EXPECT_EQ(r.body["data"][0]["region_id"], nullptr);
    r = w.call("GET", "/cost_plans/" + r.body["data"][0]["cost_plan_id"].dump());
    EXPECT_EQ(r.body["data"]["amount"], 4000);
    EXPECT_EQ(r.body["data"]["currency"], "DKK");
    EXPECT_EQ(r.body["data"]["template_count"], 1);

    const json plan = {{"name", "Monthly 5"},
                       {"amount", 500},
                       {"currency", "eur"},
                       {"interval_amount", 1},
                       {"interval_type", "month"}};
    for (const auto& [field, value] :
         std::vector<std::pair<std::string, json>>{{"currency", "EURO"},
                                                   {"currency", "E1R"},
                                                   {"amount", 2.5},
                                                   {"amount", -1},
                                                   {"interval_type", "week"},
                                                   {"interval_amount", 0},
                                                   {"name", ""}}) {
        json body = plan;
        body[field] = value;
        r = w.call("POST", "/cost_plans", body);
        EXPECT_EQ(r.status, 400) << field << "=" << value << ": " << r.raw;
        EXPECT_TRUE(is_admin_error(r)) << r.raw;
    }
    r = w.call("POST", "/cost_plans", plan, w.viewer);
    EXPECT_EQ(r.body, json({{"error", "missing permission: vm_template::create"}}));
    r = w.call("POST", "/cost_plans", plan);
    ASSERT_EQ(r.status, 201) << r.raw;
    EXPECT_EQ(r.body["data"]["currency"], "EUR");
    EXPECT_EQ(r.body["data"]["template_count"], 0);
    const auto cost_plan = r.body["data"]["id"].get<std::int64_t>();

    const json small = {{"name", "Small SSD"},      {"cpu", 2},
                        {"memory", 2LL << 30},      {"disk_size", 20LL << 30},
                        {"disk_type", "ssd"},       {"disk_interface", "pcie"},
                        {"cost_plan_id", cost_plan}};
    for (const auto& [field, value] :
         std::vector<std::pair<std::string, json>>{{"memory", (2LL << 30) + 1},
                                                   {"disk_size", 1LL << 20},
                                                   {"cpu", 0},
                                                   {"disk_type", "nvme"},
                                                   {"disk_interface", "usb"},
                                                   {"region_id", 999},
                                                   {"cost_plan_id", 999},
                                                   {"cost_plan_id", nullptr},
                                                   {"expires", "2025-13-01"}}) {
        json body = small;
        body[field] = value;
        r = w.call("POST", "/vm_templates", body);
        EXPECT_EQ(r.status, 400) << field << "=" << value << ": " << r.raw;
        EXPECT_TRUE(is_admin_error(r)) << r.raw;
    }
    EXPECT_EQ(w.query("SELECT count(*) FROM plans"), "3") << "refused creates left nothing";
    EXPECT_EQ(w.query("SELECT count(*) FROM cost_plans"), "4");

    r = w.call("POST", "/vm_templates", small);
    ASSERT_EQ(r.status, 201) << r.raw;
    const auto small_id = r.body["data"]["id"].get<std::int64_t>();
    EXPECT_EQ(r.body["data"]["cost_plan_name"], "Monthly 5");
    EXPECT_EQ(r.body["data"]["enabled"], true);
    EXPECT_EQ(r.body["data"]["expires"], nullptr);
    EXPECT_EQ(r.body["data"]["memory"], 2LL << 30);
    EXPECT_EQ(r.body["data"]["active_vm_count"], 0);
    // Customers order it by a code made from its name, at the cost plan's monthly price.
    auto sold = customer_plan(w.api, w.boss, "small-ssd");
    ASSERT_TRUE(sold.is_object()) << w.api.get("/api/v1/plans", w.boss).raw;
    EXPECT_EQ(sold["memoryMb"], 2048);
    EXPECT_EQ(sold["diskGb"], 20);
    EXPECT_EQ(sold["priceMonthlyOre"], 500);
    EXPECT_EQ(sold["priceHourlyOre"], 1);
    r = w.call("PATCH", "/cost_plans/" + std::to_string(cost_plan),
               {{"amount", 7300}, {"interval_type", "day"}, {"interval_amount", 10}});
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["data"]["template_count"], 1);
    sold = customer_plan(w.api, w.boss, "small-ssd");
    EXPECT_EQ(sold["priceMonthlyOre"], 22205) << "7300 per 10 days is 22204.2 per 730 hours";
    EXPECT_EQ(sold["priceHourlyOre"], 31);

    // Without a cost plan one is made from the cost_plan_* fields; the region must exist.
    json tiny = small;
    tiny.erase("cost_plan_id");
    tiny["name"] = "Tiny";
    tiny["region_id"] = 1;
    tiny["expires"] = "2030-01-01";
    r = w.call("POST", "/vm_templates", tiny);
    EXPECT_EQ(r.status, 400) << "cost_plan_amount is required: " << r.raw;
    tiny["cost_plan_amount"] = 1200;
    r = w.call("POST", "/vm_templates", tiny);
    ASSERT_EQ(r.status, 201) << r.raw;
    const auto tiny_id = r.body["data"]["id"].get<std::int64_t>();
    EXPECT_EQ(r.body["data"]["region_name"], "default");
    EXPECT_EQ(r.body["data"]["cost_plan_name"], "Tiny Cost Plan");
    EXPECT_EQ(r.body["data"]["expires"], "2030-01-01T00:00:00.000Z");
    const auto tiny_plan = r.body["data"]["cost_plan_id"].get<std::int64_t>();
    r = w.call("GET", "/cost_plans/" + std::to_string(tiny_plan));
    EXPECT_EQ(r.body["data"]["currency"], "USD");
    EXPECT_EQ(r.body["data"]["interval_type"], "month");
    r = w.call("PATCH", "/vm_templates/" + std::to_string(tiny_id),
               {{"cost_plan_amount", 1500}, {"expires", nullptr}, {"region_id", nullptr}});
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["data"]["expires"], nullptr);
    EXPECT_EQ(r.body["data"]["region_id"], nullptr);
    EXPECT_EQ(w.call("GET", "/cost_plans/" + std::to_string(tiny_plan)).body["data"]["amount"],
              1500);

    // A template a VM uses: its resources stay, it and its cost plan cannot be deleted.
    const auto customer = sign_up(w.api, "customer@example.com");
    order(w.api, customer.access_token, "web", "small-ssd");
    const std::string small_path = "/vm_templates/" + std::to_string(small_id);
    EXPECT_EQ(w.call("GET", small_path).body["data"]["active_vm_count"], 1);
    r = w.call("DELETE", small_path);
    EXPECT_EQ(r.status, 409) << r.raw;
    EXPECT_TRUE(is_admin_error(r));
    r = w.call("DELETE", "/cost_plans/" + std::to_string(cost_plan));
    EXPECT_EQ(r.status, 409) << r.raw;
    EXPECT_TRUE(is_admin_error(r));
    r = w.call("DELETE", "/vm_os_images/2");
    EXPECT_EQ(r.status, 409) << "Debian 12 is in use: " << r.raw;
    EXPECT_EQ(w.call("PATCH", small_path, {{"cpu", 4}}).status, 409);
    r = w.call("PATCH", small_path, {{"name", "Small SSD (old)"}, {"enabled", false}});
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["data"]["cpu"], 2);
    EXPECT_TRUE(customer_plan(w.api, w.boss, "small-ssd").is_null()) << "disabled: not sold";

    // An unused template goes, and its own cost plan with it.
    EXPECT_EQ(
        w.call("DELETE", "/vm_templates/" + std::to_string(tiny_id), nullptr, w.viewer).status,
        403);
    EXPECT_EQ(w.call("DELETE", "/vm_templates/" + std::to_string(tiny_id)).status, 200);
    EXPECT_EQ(w.call("GET", "/vm_templates/" + std::to_string(tiny_id)).status, 404);
    EXPECT_EQ(w.call("GET", "/cost_plans/" + std::to_string(tiny_plan)).status, 404);
    r = w.call("POST", "/cost_plans", plan);
    ASSERT_EQ(r.status, 201);
    EXPECT_EQ(w.call("DELETE", "/cost_plans/" + r.body["data"]["id"].dump()).status, 200);
    EXPECT_EQ(w.call("GET", "/vm_templates").body["total"], 4);
    EXPECT_EQ(w.query("SELECT count(*) FROM audit_log WHERE target_type IN "
                      "('vm_template', 'cost_plan') AND actor_id = " +
                      std::to_string(w.user_id("viewer@example.com"))),
              "0");
}

TEST(admin_users, list_search_get_and_update) {
    admin_world w;
    const auto alice = sign_up(w.api, "alice@example.com");
    sign_up(w.api, "bob@example.com");
    const auto alice_id = w.user_id("alice@example.com");
    {
        pqxx::connection conn(w.db);
        pqxx::work tx(conn);
        tx.exec_params("UPDATE users SET pubkey = $2 WHERE id = $1", alice_id,
                       std::string(64, 'a'));
        tx.commit();
    }

    auto r = w.call("GET", "/users?limit=2&offset=1");
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["total"], 4);
    EXPECT_EQ(r.body["limit"], 2);
    EXPECT_EQ(r.body["offset"], 1);
    ASSERT_EQ(r.body["data"].size(), 2u);
    EXPECT_EQ(r.body["data"][0]["email"], "viewer@example.com");
    r = w.call("GET", "/users?search=" + std::string(64, 'A'));
    ASSERT_EQ(r.body["total"], 1) << r.raw;
    EXPECT_EQ(r.body["data"][0]["email"], "alice@example.com");
    EXPECT_EQ(w.call("GET", "/users?search=BOB@").body["data"][0]["email"], "bob@example.com");
    EXPECT_EQ(w.call("GET", "/users?limit=x").status, 400);

    const std::string path = "/users/" + std::to_string(alice_id);
    r = w.call("GET", path, nullptr, w.viewer);
    ASSERT_EQ(r.status, 200) << r.raw;
    const json before = r.body["data"];
    EXPECT_EQ(before["pubkey"], std::string(64, 'a'));
    EXPECT_EQ(before["country_code"], "DK");
    EXPECT_EQ(before["contact_email"], true);
    EXPECT_EQ(before["vm_count"], 0);
    EXPECT_EQ(before["is_admin"], false);
    EXPECT_TRUE(before["last_login"].is_string()) << "sign-up opened a session";
    EXPECT_EQ(before["billing_name"], nullptr);
    EXPECT_EQ(w.call("GET", "/users/999").status, 404);

    for (const json& bad :
         {json{{"email", "not-an-email"}}, json{{"email", "bob@example.com"}},
          json{{"country_code", "DNK"}}, json{{"admin_role", "god"}},
          json{{"contact_email", "yes"}}, json{{"billing_city", 12}},
          json{{"billing_name", std::string(201, 'x')}}, json{{"status", "deleted"}}}) {
        r = w.call("PATCH", path, bad);
        EXPECT_TRUE(r.status == 400 || r.status == 409) << bad.dump() << ": " << r.raw;
        EXPECT_TRUE(is_admin_error(r)) << r.raw;
    }
    r = w.call("PATCH", path, {{"contact_email", false}}, w.viewer);
    EXPECT_EQ(r.body, json({{"error", "missing permission: users::update"}}));
    EXPECT_EQ(w.call("GET", path).body["data"], before) << "refused updates changed nothing";

    r = w.call("PATCH", path,
               {{"email", "Alice@Example.org"},
                {"contact_nip17", true},
                {"contact_email", false},
                {"country_code", "se"},
                {"billing_name", "Alice AB"},
                {"billing_tax_id", "SE123"},
                {"admin_role", "read_only"}});
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["data"]["email"], "alice@example.org");
    EXPECT_EQ(r.body["data"]["contact_nip17"], true);
    EXPECT_EQ(r.body["data"]["country_code"], "SE");
    EXPECT_EQ(r.body["data"]["billing_name"], "Alice AB");
    EXPECT_EQ(r.body["data"]["is_admin"], true);
    // The new operator role works at once; taking it away closes the admin API again.
    EXPECT_EQ(w.call("GET", "/vms", nullptr, alice.access_token).status, 200);
    EXPECT_EQ(w.call("PATCH", path, {{"billing_name", ""}}, alice.access_token).status, 403);
    r = w.call("PATCH", path, {{"admin_role", nullptr}, {"billing_name", ""}});
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["data"]["is_admin"], false);
    EXPECT_EQ(r.body["data"]["billing_name"], nullptr);
    EXPECT_EQ(w.call("GET", "/vms", nullptr, alice.access_token).status, 403);

    // Operators cannot change their own role.
    r = w.call("PATCH", "/users/" + std::to_string(w.user_id("boss@example.com")),
               {{"admin_role", "read_only"}});
    EXPECT_EQ(r.status, 403) << r.raw;
    EXPECT_EQ(w.query("SELECT count(*) FROM audit_log WHERE action = 'user.update'"), "2");

    // A suspended customer is signed out everywhere at once; reactivated, they sign in again.
    r = w.call("PATCH", path, {{"status", "suspended"}});
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["data"]["status"], "suspended");
    EXPECT_EQ(w.api.get("/api/v1/me", alice.access_token).status, 401);
    EXPECT_EQ(w.api.post("/api/v1/auth/refresh", {{"refresh_token", alice.refresh_token}}).status,
              401);
    EXPECT_EQ(w.api
                  .post("/api/v1/auth/login",
                        {{"email", "alice@example.org"}, {"password", alice.password}})
                  .status,
              401);
    r = w.call("PATCH", path, {{"status", "active"}});
    EXPECT_EQ(r.body["data"]["status"], "active");
    EXPECT_EQ(w.api
                  .post("/api/v1/auth/login",
                        {{"email", "alice@example.org"}, {"password", alice.password}})
                  .status,
              200);
    EXPECT_EQ(w.call("PATCH", "/users/" + std::to_string(w.user_id("boss@example.com")),
                     {{"status", "suspended"}})
                  .status,
              403);
}

TEST(admin_vms, customer_orders_show_with_filters_history_and_delete) {
    admin_world w;
    const auto customer = sign_up(w.api, "customer@example.com");
    const auto customer_id = w.user_id("customer@example.com");
    const std::string uid = order(w.api, customer.access_token, "web-01", "bxs-1");
    const auto vm = std::stoll(w.query("SELECT id FROM instances WHERE uid = '" + uid + "'"));
    const std::string path = "/vms/" + std::to_string(vm);
    // No host: placing it fails, and the VM says so without a host or region.
    ASSERT_TRUE(eventually(
        [&] {
            return w.query("SELECT status FROM instances WHERE id = " + std::to_string(vm)) ==
                   "error";
        },
        15s));

    auto r = w.call("GET", "/vms", nullptr, w.viewer);
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["total"], 1);
    const json listed = r.body["data"][0];
    EXPECT_EQ(listed["id"], vm);
    EXPECT_EQ(listed["user_id"], customer_id);
    EXPECT_EQ(listed["user_email"], "customer@example.com");
    EXPECT_EQ(listed["template_name"], "BXS 1");
    EXPECT_EQ(listed["image_name"], "Debian 12");
    EXPECT_EQ(listed["cpu"], 1);
    EXPECT_EQ(listed["memory"], 2048LL << 20);
    EXPECT_EQ(listed["host_id"], nullptr);
    EXPECT_EQ(listed["running_state"], nullptr);
    EXPECT_EQ(listed["deleted"], false);
    EXPECT_EQ(listed["mac_address"].get<std::string>().substr(0, 9), "52:54:00:");
    EXPECT_EQ(w.call("GET", path).body["data"], listed);

    EXPECT_EQ(w.call("GET", "/vms?user_id=" + std::to_string(customer_id)).body["total"], 1);
    EXPECT_EQ(w.call("GET", "/vms?user_id=" + std::to_string(customer_id + 1)).body["total"], 0);
    EXPECT_EQ(w.call("GET", "/vms?host_id=1").body["total"], 0);
    EXPECT_EQ(w.call("GET", "/vms?pubkey=" + std::string(64, 'b')).body["total"], 0);
    for (const char* bad : {"user_id=abc", "host_id=-1", "pubkey=zz", "include_deleted=maybe"}) {
        r = w.call("GET", std::string("/vms?") + bad);
        EXPECT_EQ(r.status, 400) << bad;
        EXPECT_TRUE(is_admin_error(r)) << r.raw;
    }
    EXPECT_EQ(w.call("GET", "/vms/999").status, 404);

    // The history: created by its owner, then the failed placement.
    r = w.call("GET", path + "/history");
    ASSERT_EQ(r.status, 200) << r.raw;
    const json history = r.body["data"];
    ASSERT_GE(history.size(), 2u) << r.raw;
    const json created = history[history.size() - 1];
    EXPECT_EQ(created["action_type"], "created");
    EXPECT_EQ(created["initiated_by_user"], customer_id);
    EXPECT_EQ(created["initiated_by_user_email"], "customer@example.com");
    EXPECT_EQ(history[0]["action_type"], "state_changed");
    EXPECT_EQ(w.call("GET", path + "/history/" + created["id"].dump()).body["data"], created);
    EXPECT_EQ(w.call("GET", "/vms/999/history").status, 404);
    EXPECT_EQ(w.call("GET", path + "/history/999").status, 404);

    // Power actions follow the same rules as the customer's; delete is a job.
    r = w.call("POST", path + "/start");
    EXPECT_EQ(r.status, 409) << r.raw;
    EXPECT_EQ(r.body, json({{"error", "cannot start a VM that is error"}}));
    EXPECT_EQ(w.call("DELETE", path, nullptr, w.viewer).status, 403);
    EXPECT_EQ(w.call("DELETE", path, {{"reason", 5}}).status, 400);
    r = w.call("DELETE", path, {{"reason", "abuse"}});
    ASSERT_EQ(r.status, 200) << r.raw;
    const std::string job = r.body["data"]["job_id"];
    EXPECT_EQ(job.substr(0, 4), "job_");
    ASSERT_TRUE(eventually(
        [&] { return w.query("SELECT state FROM jobs WHERE uid = '" + job + "'") == "completed"; },
        15s));
    EXPECT_EQ(w.call("DELETE", path).status, 409);
    EXPECT_EQ(w.call("GET", "/vms").body["total"], 0);
    r = w.call("GET", "/vms?include_deleted=true");
    ASSERT_EQ(r.body["total"], 1) << r.raw;
    EXPECT_EQ(r.body["data"][0]["deleted"], true);
    r = w.call("GET", path + "/history?limit=1");
    EXPECT_EQ(r.body["data"][0]["action_type"], "deleted");
    EXPECT_EQ(r.body["data"][0]["initiated_by_user"], w.user_id("boss@example.com"));
    EXPECT_GE(r.body["total"].get<int>(), 3);
    EXPECT_EQ(w.query("SELECT after->>'reason' FROM audit_log WHERE action = 'vm.delete'"),
              "abuse");
}

TEST(admin_catalog, apps_are_versions_customers_see_the_newest_active_one_of) {
    admin_world w;
    const json v2 = {{"slug", "gitea"},   {"version", "1.23"},
                     {"name", "Gitea"},   {"category", "development"},
                     {"image_id", 2},     {"user_data", "#!/bin/sh\necho gitea 1.23\n"},
                     {"min_cpu", 1},      {"min_memory_mb", 1024},
                     {"min_disk_gb", 20}, {"logo", "https://cdn.example.com/gitea.svg"}};
    const std::string apps_before = w.query("SELECT count(*) FROM apps");
    for (const auto& [field, value] :
         std::vector<std::pair<std::string, json>>{{"slug", "Gitea!"},
                                                   {"version", ""},
                                                   {"image_id", 999},
                                                   {"user_data", nullptr},
                                                   {"min_memory_mb", 0},
                                                   {"logo", "http://insecure.example.com/x.svg"},
                                                   {"name", nullptr}}) {
        json bad = v2;
        if (value.is_null()) {
            bad.erase(field);
        } else {
            bad[field] = value;
        }
        const auto r = w.call("POST", "/apps", bad);
        EXPECT_EQ(r.status, 400) << field << " " << value << " -> " << r.raw;
        EXPECT_TRUE(is_admin_error(r)) << r.raw;
        EXPECT_NE(r.raw.find(field), std::string::npos) << "the error names " << field << r.raw;
    }
    EXPECT_EQ(w.call("POST", "/apps", v2, w.viewer).status, 403);
    EXPECT_EQ(w.query("SELECT count(*) FROM apps"), apps_before) << "a refused app was written";

    const auto created = w.call("POST", "/apps", v2);
    ASSERT_EQ(created.status, 201) << created.raw;
    const std::string id = created.body["data"]["id"].dump();
    EXPECT_EQ(created.body["data"]["slug"], "gitea");
    EXPECT_EQ(created.body["data"]["active"], true);
    EXPECT_EQ(w.call("POST", "/apps", v2).status, 409) << "one row per slug and version";
    EXPECT_EQ(w.call("GET", "/apps/" + id).body["data"]["version"], "1.23");

    // The customer catalog shows the new version of Gitea, with its needs and logo.
    const auto customer = sign_up(w.api, "apps-buyer@example.com");
    const auto shown = w.api.get("/api/v1/apps/gitea", customer.access_token);
    ASSERT_EQ(shown.status, 200) << shown.raw;
    EXPECT_EQ(shown.body["app"]["version"], "1.23") << shown.raw;
    EXPECT_EQ(shown.body["app"]["logo"], "https://cdn.example.com/gitea.svg") << shown.raw;

    // What a version installs is fixed; retiring it puts the previous version back in front.
    const auto fixed = w.call("PATCH", "/apps/" + id, {{"user_data", "#!/bin/sh\n"}});
    EXPECT_EQ(fixed.status, 400) << fixed.raw;
    EXPECT_NE(fixed.raw.find("user_data is fixed"), std::string::npos) << fixed.raw;
    const auto retired = w.call("PATCH", "/apps/" + id, {{"active", false}, {"logo", nullptr}});
    ASSERT_EQ(retired.status, 200) << retired.raw;
    EXPECT_EQ(retired.body["data"]["active"], false);
    EXPECT_TRUE(retired.body["data"]["logo"].is_null());
    const auto previous = w.api.get("/api/v1/apps/gitea", customer.access_token);
    ASSERT_EQ(previous.status, 200) << previous.raw;
    EXPECT_NE(previous.body["app"]["version"], "1.23") << previous.raw;
    EXPECT_EQ(w.call("PATCH", "/apps/999999", {{"active", false}}).status, 404);
    EXPECT_EQ(w.query("SELECT count(*) FROM audit_log WHERE action LIKE 'app.%'"), "2");
}
