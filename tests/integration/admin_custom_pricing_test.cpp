// Admin API custom pricing (LNVPS "Custom Pricing Models Management") on a real coordinator and
// PostgreSQL: models with their disk pricing, custom templates held to their model's limits,
// quotes in exact integer minor units, copies into another region, deletes that disable a model
// templates use, and every refusal (bad input, missing permission) changing nothing.
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/test_helpers.hpp"

#include <gtest/gtest.h>

using namespace vpsfleet::testing;
using json = nlohmann::json;

namespace {

constexpr std::int64_t k_mib = 1LL << 20;
constexpr std::int64_t k_gib = 1LL << 30;

json disk(const std::string& kind, const std::string& interface, std::int64_t cost,
          std::int64_t min, std::int64_t max) {
    return {{"kind", kind},
            {"interface", interface},
            {"cost", cost},
            {"min_disk_size", min},
            {"max_disk_size", max}};
}

// EUR cents: 1.50 a core, 0.75 a GB of memory, 0.09 a GB of ssd/pcie, 0.02 a GB of hdd/sata,
// 2.00 an IPv4 address, 0.01 an IPv6 address; 1-8 cores, 512 MiB-32 GiB of memory.
json eu_model(std::int64_t region_id) {
    return {{"name", "EU standard"},
            {"region_id", region_id},
            {"currency", "eur"},
            {"cpu_cost", 150},
            {"memory_cost", 75},
            {"ip4_cost", 200},
            {"ip6_cost", 1},
            {"min_cpu", 1},
            {"max_cpu", 8},
            {"min_memory", 512 * k_mib},
            {"max_memory", 32 * k_gib},
            {"disk_pricing",
             {disk("ssd", "pcie", 9, 10 * k_gib, 500 * k_gib),
              disk("hdd", "sata", 2, 20 * k_gib, 4000 * k_gib)}}};
}

json small_template() {
    return {{"cpu", 2},
            {"memory", 2 * k_gib},
            {"disk_size", 80 * k_gib},
            {"disk_type", "ssd"},
            {"disk_interface", "pcie"}};
}

bool is_admin_error(const api_reply& r) {
    return r.body.is_object() && r.body.size() == 1 && r.body["error"].is_string();
}

// The disk pricing as sent: without the ids the server gave it.
json without_ids(json disks) {
    for (auto& d : disks) d.erase("id");
    return disks;
}

std::int64_t create(const admin_world& w, const std::string& path, const json& body) {
    const auto r = w.call("POST", path, body);
    EXPECT_EQ(r.status, 201) << path << ": " << r.raw;
    return r.body["data"].value("id", std::int64_t{0});
}

std::int64_t new_region(const admin_world& w, const std::string& name) {
    return create(w, "/regions", {{"name", name}});
}

std::string path_of(std::int64_t id) { return "/custom_pricing/" + std::to_string(id); }

}  // namespace

TEST(admin_custom_pricing, models_round_trip_filter_and_refuse_bad_input_writing_nothing) {
    admin_world w;
    const auto north = new_region(w, "eu-north");

    for (const auto& [field, value] : std::vector<std::pair<std::string, json>>{
             {"cpu_cost", -1},
             {"memory_cost", 1.5},
             {"ip4_cost", "200"},
             {"currency", "EURO"},
             {"currency", "E1R"},
             {"min_cpu", 9},  // over max_cpu 8
             {"max_cpu", 0},
             {"min_memory", 64 * k_gib},  // over max_memory 32 GiB
             {"region_id", 999},
             {"name", ""},
             {"enabled", "yes"},
             {"expires", "2030-02-30"},
             {"disk_pricing", "ssd"},
             {"disk_pricing", json::array({disk("nvme", "pcie", 9, k_gib, 2 * k_gib)})},
             {"disk_pricing", json::array({disk("ssd", "usb", 9, k_gib, 2 * k_gib)})},
             {"disk_pricing", json::array({disk("ssd", "pcie", -9, k_gib, 2 * k_gib)})},
             {"disk_pricing", json::array({disk("ssd", "pcie", 9, 2 * k_gib, k_gib)})},
             {"disk_pricing", json::array({disk("ssd", "pcie", 9, 0, k_gib)})},
             {"disk_pricing", json::array({disk("ssd", "pcie", 9, k_gib, 2 * k_gib),
                                           disk("ssd", "pcie", 8, k_gib, 2 * k_gib)})},
             {"disk_pricing", json::array({json{{"kind", "ssd"}, {"interface", "pcie"}}})}}) {
        json body = eu_model(1);
        body[field] = value;
        const auto r = w.call("POST", "/custom_pricing", body);
        EXPECT_EQ(r.status, 400) << field << "=" << value << ": " << r.raw;
        EXPECT_TRUE(is_admin_error(r)) << r.raw;
    }
    json incomplete = eu_model(1);
    incomplete.erase("ip6_cost");
    EXPECT_EQ(w.call("POST", "/custom_pricing", incomplete).status, 400);
    auto r = w.call("POST", "/custom_pricing", eu_model(1), w.viewer);
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(r.body, json({{"error", "missing permission: vm_custom_pricing::create"}}));
    EXPECT_EQ(w.query("SELECT count(*) FROM custom_pricing"), "0") << "refusals wrote nothing";
    EXPECT_EQ(w.query("SELECT count(*) FROM custom_pricing_disk"), "0");
    EXPECT_EQ(w.query("SELECT count(*) FROM audit_log WHERE target_type = 'custom_pricing'"), "0");

    r = w.call("POST", "/custom_pricing", eu_model(1));
    ASSERT_EQ(r.status, 201) << r.raw;
    const json made = r.body["data"];
    const auto eu = made["id"].get<std::int64_t>();
    EXPECT_EQ(made["name"], "EU standard");
    EXPECT_EQ(made["enabled"], true);
    EXPECT_EQ(made["expires"], nullptr);
    EXPECT_TRUE(made["created"].is_string());
    EXPECT_EQ(made["region_id"], 1);
    EXPECT_EQ(made["region_name"], "default");
    EXPECT_EQ(made["currency"], "EUR");
    EXPECT_EQ(made["cpu_cost"], 150);
    EXPECT_EQ(made["memory_cost"], 75);
    EXPECT_EQ(made["ip4_cost"], 200);
    EXPECT_EQ(made["ip6_cost"], 1);
    EXPECT_EQ(made["min_memory"], 512 * k_mib);
    EXPECT_EQ(made["max_memory"], 32 * k_gib);
    EXPECT_EQ(made["template_count"], 0);
    EXPECT_EQ(without_ids(made["disk_pricing"]), eu_model(1)["disk_pricing"]);
    EXPECT_TRUE(made["disk_pricing"][0]["id"].is_number_integer());
    EXPECT_EQ(w.call("GET", path_of(eu), nullptr, w.viewer).body["data"], made);

    // An expiry in the past is accepted: it ends the offer at once (operators withdraw so).
    json old = eu_model(north);
    old["name"] = "North legacy";
    old["enabled"] = false;
    old["expires"] = "2020-01-01T00:00:00Z";
    old["disk_pricing"] = json::array({disk("ssd", "pcie", 12, 10 * k_gib, 100 * k_gib)});
    const auto legacy = create(w, "/custom_pricing", old);
    EXPECT_EQ(w.call("GET", path_of(legacy)).body["data"]["expires"], "2020-01-01T00:00:00.000Z");

    r = w.call("GET", "/custom_pricing?limit=1&offset=1", nullptr, w.viewer);
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["total"], 2);
    EXPECT_EQ(r.body["limit"], 1);
    EXPECT_EQ(r.body["offset"], 1);
    ASSERT_EQ(r.body["data"].size(), 1u);
    EXPECT_EQ(r.body["data"][0]["name"], "North legacy");
    EXPECT_EQ(r.body["data"][0]["region_name"], "eu-north");
    r = w.call("GET", "/custom_pricing?region_id=1");
    EXPECT_EQ(r.body["total"], 1);
    EXPECT_EQ(r.body["data"][0]["id"], eu);
    r = w.call("GET", "/custom_pricing?enabled=false");
    EXPECT_EQ(r.body["total"], 1);
    EXPECT_EQ(r.body["data"][0]["id"], legacy);
    EXPECT_EQ(w.call("GET", "/custom_pricing?enabled=true&region_id=" + std::to_string(north))
                  .body["total"],
              0);
    r = w.call("GET", "/regions/" + std::to_string(north) + "/custom_pricing");
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["total"], 1);
    EXPECT_EQ(r.body["data"][0]["id"], legacy);
    EXPECT_EQ(w.call("GET", "/regions/1/custom_pricing?enabled=false").body["total"], 0);
    EXPECT_EQ(w.call("GET", "/regions/999/custom_pricing").status, 404);
    EXPECT_EQ(w.call("GET", "/custom_pricing?region_id=x").status, 400);
    EXPECT_EQ(w.call("GET", "/custom_pricing?enabled=maybe").status, 400);
    r = w.call("GET", "/custom_pricing/999");
    EXPECT_EQ(r.status, 404);
    EXPECT_TRUE(is_admin_error(r));
    EXPECT_EQ(w.call("PATCH", "/custom_pricing/999", {{"name", "x"}}).status, 404);
    EXPECT_EQ(w.call("DELETE", "/custom_pricing/999").status, 404);

    // Updates: each bad one refused with nothing changed; disk_pricing replaces the whole set.
    for (const json& bad :
         {json{{"min_cpu", 9}}, json{{"max_memory", 256 * k_mib}}, json{{"region_id", 999}},
          json{{"currency", "12"}}, json{{"ip6_cost", -1}},
          json{{"disk_pricing", {{{"kind", "ssd"}}}}}, json{{"name", "ok"}, {"max_cpu", 2000}}}) {
        r = w.call("PATCH", path_of(eu), bad);
        EXPECT_EQ(r.status, 400) << bad.dump() << ": " << r.raw;
        EXPECT_TRUE(is_admin_error(r)) << r.raw;
    }
    r = w.call("PATCH", path_of(eu), {{"name", "x"}}, w.viewer);
    EXPECT_EQ(r.body, json({{"error", "missing permission: vm_custom_pricing::update"}}));
    EXPECT_EQ(w.call("GET", path_of(eu)).body["data"], made) << "refused updates changed nothing";

    const json new_disks = {disk("ssd", "pcie", 10, 20 * k_gib, 1000 * k_gib),
                            disk("hdd", "scsi", 3, 100 * k_gib, 8000 * k_gib)};
    r = w.call("PATCH", path_of(eu),
               {{"name", "EU standard v2"},
                {"cpu_cost", 160},
                {"region_id", north},
                {"expires", "2031-01-01T12:00:00+01:00"},
                {"disk_pricing", new_disks}});
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["data"]["name"], "EU standard v2");
    EXPECT_EQ(r.body["data"]["cpu_cost"], 160);
    EXPECT_EQ(r.body["data"]["memory_cost"], 75) << "fields not given stay";
    EXPECT_EQ(r.body["data"]["region_name"], "eu-north");
    EXPECT_EQ(r.body["data"]["expires"], "2031-01-01T11:00:00.000Z");
    EXPECT_EQ(without_ids(r.body["data"]["disk_pricing"]), new_disks);
    r = w.call("PATCH", path_of(eu), {{"expires", nullptr}});
    EXPECT_EQ(r.body["data"]["expires"], nullptr);
    EXPECT_EQ(w.query("SELECT string_agg(action, ',' ORDER BY id) FROM audit_log "
                      "WHERE target_type = 'custom_pricing' AND target_id = '" +
                      std::to_string(eu) + "'"),
              "custom_pricing.create,custom_pricing.update,custom_pricing.update");
}

TEST(admin_custom_pricing, templates_stay_within_their_model_and_show_their_price) {
    admin_world w;
    const auto eu = create(w, "/custom_pricing", eu_model(1));
    const std::string templates = path_of(eu) + "/templates";

    for (const auto& [field, value] : std::vector<std::pair<std::string, json>>{
             {"cpu", 9},  // over max_cpu 8
             {"cpu", 0},
             {"memory", 256 * k_mib},            // under min_memory 512 MiB
             {"memory", 33 * k_gib},             // over max_memory 32 GiB
             {"memory", 2 * k_gib + 1},          // not whole MiB
             {"disk_size", 5 * k_gib},           // under ssd/pcie's 10 GiB
             {"disk_size", 501 * k_gib},         // over ssd/pcie's 500 GiB
             {"disk_size", 80 * k_gib + k_mib},  // not whole GiB
             {"disk_interface", "scsi"},         // no ssd/scsi pricing
             {"disk_type", "nvme"},
             {"disk_interface", nullptr}}) {
        json body = small_template();
        body[field] = value;
        const auto r = w.call("POST", templates, body);
        EXPECT_EQ(r.status, 400) << field << "=" << value << ": " << r.raw;
        EXPECT_TRUE(is_admin_error(r)) << r.raw;
    }
    auto r = w.call("POST", templates, small_template(), w.viewer);
    EXPECT_EQ(r.body, json({{"error", "missing permission: vm_custom_pricing::create"}}));
    EXPECT_EQ(w.call("POST", "/custom_pricing/999/templates", small_template()).status, 404);
    EXPECT_EQ(w.query("SELECT count(*) FROM custom_templates"), "0") << "refusals wrote nothing";

    r = w.call("POST", templates, small_template());
    ASSERT_EQ(r.status, 201) << r.raw;
    const auto small = r.body["data"]["id"].get<std::int64_t>();
    const std::string small_path = "/custom_templates/" + std::to_string(small);
    // 2 cores * 150 = 300; 2 GB * 75 = 150; 80 GB ssd * 9 = 720; one IPv4 200, one IPv6 1.
    EXPECT_EQ(r.body["data"], json({{"id", small},
                                    {"cpu", 2},
                                    {"memory", 2 * k_gib},
                                    {"disk_size", 80 * k_gib},
                                    {"disk_type", "ssd"},
                                    {"disk_interface", "pcie"},
                                    {"pricing_id", eu},
                                    {"pricing_name", "EU standard"},
                                    {"region_id", 1},
                                    {"region_name", "default"},
                                    {"currency", "EUR"},
                                    {"calculated_cost",
                                     {{"cpu_cost", 300},
                                      {"memory_cost", 150},
                                      {"disk_cost", 720},
                                      {"ip4_cost", 200},
                                      {"ip6_cost", 1},
                                      {"total_monthly_cost", 1371}}},
                                    {"vm_count", 0}}));
    EXPECT_EQ(w.call("GET", small_path, nullptr, w.viewer).body["data"], r.body["data"]);

    // The model's limits themselves are inside. 1000 MiB is 0.9765625 GB: 73.24 -> 73.
    const auto edge = create(w, templates,
                             {{"cpu", 8},
                              {"memory", 1000 * k_mib},
                              {"disk_size", 4000 * k_gib},
                              {"disk_type", "hdd"},
                              {"disk_interface", "sata"}});
    const std::string edge_path = "/custom_templates/" + std::to_string(edge);
    EXPECT_EQ(w.call("GET", edge_path).body["data"]["calculated_cost"],
              json({{"cpu_cost", 1200},
                    {"memory_cost", 73},
                    {"disk_cost", 8000},
                    {"ip4_cost", 200},
                    {"ip6_cost", 1},
                    {"total_monthly_cost", 9474}}));
    r = w.call("GET", templates + "?limit=1");
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["total"], 2);
    ASSERT_EQ(r.body["data"].size(), 1u);
    EXPECT_EQ(r.body["data"][0]["id"], small);
    EXPECT_EQ(w.call("GET", "/custom_pricing/999/templates").status, 404);
    EXPECT_EQ(w.call("GET", path_of(eu)).body["data"]["template_count"], 2);

    // Template updates are held to the (possibly new) model too.
    const auto other = create(w, "/custom_pricing", [] {
        json m = eu_model(1);
        m["name"] = "SSD only";
        m["disk_pricing"] = json::array({disk("ssd", "pcie", 5, 10 * k_gib, 200 * k_gib)});
        return m;
    }());
    const json edge_before = w.call("GET", edge_path).body["data"];
    for (const json& bad :
         {json{{"disk_size", 4001 * k_gib}}, json{{"cpu", 9}}, json{{"pricing_id", 999}},
          json{{"pricing_id", other}}, json{{"disk_interface", "usb"}}}) {
        r = w.call("PATCH", edge_path, bad);
        EXPECT_EQ(r.status, 400) << bad.dump() << ": " << r.raw;
        EXPECT_TRUE(is_admin_error(r)) << r.raw;
    }
    EXPECT_EQ(w.call("PATCH", edge_path, {{"cpu", 4}}, w.viewer).status, 403);
    EXPECT_EQ(w.call("GET", edge_path).body["data"], edge_before);
    r = w.call("PATCH", edge_path,
               {{"pricing_id", other},
                {"disk_type", "ssd"},
                {"disk_interface", "pcie"},
                {"disk_size", 100 * k_gib}});
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["data"]["pricing_name"], "SSD only");
    EXPECT_EQ(r.body["data"]["calculated_cost"]["disk_cost"], 500) << "100 GB at 5";
    EXPECT_EQ(r.body["data"]["calculated_cost"]["total_monthly_cost"], 1200 + 73 + 500 + 201);

    // A model change that would leave a template outside the model is refused.
    for (const json& stranding :
         {json{{"min_cpu", 3}}, json{{"max_memory", k_gib}},
          json{{"disk_pricing", json::array({disk("hdd", "sata", 2, 20 * k_gib, 4000 * k_gib)})}},
          json{
              {"disk_pricing", json::array({disk("ssd", "pcie", 9, 100 * k_gib, 500 * k_gib)})}}}) {
        r = w.call("PATCH", path_of(eu), stranding);
        EXPECT_EQ(r.status, 409) << stranding.dump() << ": " << r.raw;
        EXPECT_TRUE(is_admin_error(r)) << r.raw;
    }
    EXPECT_EQ(w.call("GET", path_of(eu)).body["data"]["disk_pricing"].size(), 2u);

    // A template VMs were sized by keeps its size and cannot be deleted.
    const auto customer = sign_up(w.api, "customer@example.com");
    const auto order =
        w.api.post("/api/v1/projects/" + first_project(w.api, customer.access_token) + "/instances",
                   instance_order("web"), customer.access_token);
    ASSERT_EQ(order.status, 202) << order.raw;
    exec_sql(w.db, "UPDATE instances SET custom_template_id = " + std::to_string(small));
    EXPECT_EQ(w.call("GET", small_path).body["data"]["vm_count"], 1);
    EXPECT_EQ(w.call("PATCH", small_path, {{"cpu", 3}}).status, 409);
    r = w.call("DELETE", small_path);
    EXPECT_EQ(r.status, 409) << r.raw;
    EXPECT_TRUE(is_admin_error(r));
    EXPECT_EQ(w.call("DELETE", edge_path, nullptr, w.viewer).status, 403);
    EXPECT_EQ(w.call("DELETE", edge_path).status, 200);
    EXPECT_EQ(w.call("GET", edge_path).status, 404);
    EXPECT_EQ(w.call("PATCH", edge_path, {{"cpu", 2}}).status, 404);
    EXPECT_EQ(w.call("DELETE", edge_path).status, 404);
    EXPECT_EQ(w.query("SELECT string_agg(action, ',' ORDER BY id) FROM audit_log "
                      "WHERE target_type = 'custom_template'"),
              "custom_template.create,custom_template.create,custom_template.update,"
              "custom_template.delete");
}

TEST(admin_custom_pricing, calculate_answers_exact_integer_prices) {
    admin_world w;
    const auto eu = create(w, "/custom_pricing", eu_model(1));
    const std::string calculate = path_of(eu) + "/calculate";

    // 3 cores * 150 = 450. 1536 MiB is 1.5 GB: 1.5 * 75 = 112.5, rounded half up to 113.
    // 41 GB ssd/pcie * 9 = 369. Two IPv4 * 200 = 400, no IPv6. 450+113+369+400 = 1332.
    auto r = w.call("POST", calculate,
                    {{"cpu", 3},
                     {"memory", 1536 * k_mib},
                     {"disk_size", 41 * k_gib},
                     {"disk_type", "ssd"},
                     {"disk_interface", "pcie"},
                     {"ip4_count", 2},
                     {"ip6_count", 0}},
                    w.viewer);
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["data"], json({{"currency", "EUR"},
                                    {"cpu_cost", 450},
                                    {"memory_cost", 113},
                                    {"disk_cost", 369},
                                    {"ip4_cost", 400},
                                    {"ip6_cost", 0},
                                    {"total_monthly_cost", 1332},
                                    {"configuration",
                                     {{"cpu", 3},
                                      {"memory", 1536 * k_mib},
                                      {"disk_size", 41 * k_gib},
                                      {"disk_type", "ssd"},
                                      {"disk_interface", "pcie"},
                                      {"ip4_count", 2},
                                      {"ip6_count", 0}}}}));

    // Addresses default to one of each. 1 core 150; 1000 MiB = 0.9765625 GB * 75 = 73.24 -> 73;
    // 20 GB hdd/sata * 2 = 40; IPv4 200; IPv6 1. 150+73+40+200+1 = 464.
    const json cheap = {{"cpu", 1},
                        {"memory", 1000 * k_mib},
                        {"disk_size", 20 * k_gib},
                        {"disk_type", "hdd"},
                        {"disk_interface", "sata"}};
    r = w.call("POST", calculate, cheap);
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["data"]["memory_cost"], 73);
    EXPECT_EQ(r.body["data"]["disk_cost"], 40);
    EXPECT_EQ(r.body["data"]["ip4_cost"], 200);
    EXPECT_EQ(r.body["data"]["ip6_cost"], 1);
    EXPECT_EQ(r.body["data"]["total_monthly_cost"], 464);
    EXPECT_EQ(r.body["data"]["configuration"]["ip4_count"], 1);

    // A price change shows at once: 1000 MiB at 77 a GB is 75.195... -> 75.
    ASSERT_EQ(w.call("PATCH", path_of(eu), {{"memory_cost", 77}}).status, 200);
    EXPECT_EQ(w.call("POST", calculate, cheap).body["data"]["total_monthly_cost"], 466);

    for (const auto& [field, value] :
         std::vector<std::pair<std::string, json>>{{"ip4_count", -1},
                                                   {"ip6_count", 1.5},
                                                   {"cpu", 9},
                                                   {"memory", 64 * k_gib},
                                                   {"disk_size", 10 * k_gib},
                                                   {"disk_type", "nvme"},
                                                   {"disk_interface", "pcie"},
                                                   {"cpu", nullptr}}) {
        json body = cheap;
        body[field] = value;
        r = w.call("POST", calculate, body);
        EXPECT_EQ(r.status, 400) << field << "=" << value << ": " << r.raw;
        EXPECT_TRUE(is_admin_error(r)) << r.raw;
    }
    EXPECT_EQ(w.call("POST", "/custom_pricing/999/calculate", cheap).status, 404);
    EXPECT_EQ(w.query("SELECT count(*) FROM audit_log WHERE action LIKE 'custom%'"), "2")
        << "a quote writes nothing: only the create and the update were audited";
}

TEST(admin_custom_pricing, copy_into_another_region_and_delete_disables_a_model_in_use) {
    admin_world w;
    const auto north = new_region(w, "eu-north");
    const auto eu = create(w, "/custom_pricing", eu_model(1));
    const json source = w.call("GET", path_of(eu)).body["data"];

    for (const json& bad :
         {json{{"region_id", north}}, json{{"name", ""}}, json{{"name", "x"}, {"region_id", 999}},
          json{{"name", "x"}, {"enabled", "no"}}}) {
        const auto r = w.call("POST", path_of(eu) + "/copy", bad);
        EXPECT_EQ(r.status, 400) << bad.dump() << ": " << r.raw;
        EXPECT_TRUE(is_admin_error(r)) << r.raw;
    }
    auto r = w.call("POST", path_of(eu) + "/copy", {{"name", "x"}}, w.viewer);
    EXPECT_EQ(r.body, json({{"error", "missing permission: vm_custom_pricing::create"}}));
    EXPECT_EQ(w.call("POST", "/custom_pricing/999/copy", {{"name", "x"}}).status, 404);
    EXPECT_EQ(w.query("SELECT count(*) FROM custom_pricing"), "1");

    r = w.call("POST", path_of(eu) + "/copy", {{"name", "EU north"}, {"region_id", north}});
    ASSERT_EQ(r.status, 201) << r.raw;
    json copy = r.body["data"];
    const auto copy_id = copy["id"].get<std::int64_t>();
    EXPECT_NE(copy_id, eu);
    EXPECT_EQ(copy["name"], "EU north");
    EXPECT_EQ(copy["region_id"], north);
    EXPECT_EQ(copy["region_name"], "eu-north");
    EXPECT_EQ(copy["enabled"], true);
    EXPECT_EQ(without_ids(copy["disk_pricing"]), without_ids(source["disk_pricing"]));
    EXPECT_NE(copy["disk_pricing"][0]["id"], source["disk_pricing"][0]["id"]);
    for (const char* field : {"currency", "cpu_cost", "memory_cost", "ip4_cost", "ip6_cost",
                              "min_cpu", "max_cpu", "min_memory", "max_memory", "expires"}) {
        EXPECT_EQ(copy[field], source[field]) << field;
    }
    r = w.call("POST", path_of(eu) + "/copy", {{"name", "EU spare"}, {"enabled", false}});
    ASSERT_EQ(r.status, 201) << r.raw;
    EXPECT_EQ(r.body["data"]["region_id"], 1) << "the source's region by default";
    EXPECT_EQ(r.body["data"]["enabled"], false);
    const auto spare = r.body["data"]["id"].get<std::int64_t>();

    // Deleting a model templates use disables it; an unused one goes with its disk pricing.
    create(w, path_of(eu) + "/templates", small_template());
    EXPECT_EQ(w.call("DELETE", path_of(eu), nullptr, w.viewer).status, 403);
    r = w.call("DELETE", path_of(eu));
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["data"]["success"], true);
    EXPECT_NE(r.body["data"]["message"].get<std::string>().find("disabled"), std::string::npos);
    r = w.call("GET", path_of(eu));
    ASSERT_EQ(r.status, 200) << "still there: " << r.raw;
    EXPECT_EQ(r.body["data"]["enabled"], false);
    EXPECT_EQ(r.body["data"]["template_count"], 1);
    EXPECT_EQ(
        w.call("GET", "/custom_templates/1").body["data"]["calculated_cost"]["total_monthly_cost"],
        1371)
        << "its templates keep their price";

    r = w.call("DELETE", path_of(spare));
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["data"],
              json({{"success", true}, {"message", "custom pricing model deleted"}}));
    EXPECT_EQ(w.call("GET", path_of(spare)).status, 404);
    EXPECT_EQ(w.query("SELECT count(*) FROM custom_pricing_disk WHERE pricing_id = " +
                      std::to_string(spare)),
              "0");

    // A region with pricing models is disabled instead of deleted, so the models keep it.
    r = w.call("DELETE", "/regions/" + std::to_string(north));
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(w.call("GET", "/regions/" + std::to_string(north)).body["data"]["enabled"], false);
    EXPECT_EQ(w.call("GET", path_of(copy_id)).body["data"]["region_name"], "eu-north");

    EXPECT_EQ(w.query("SELECT string_agg(action, ',' ORDER BY id) FROM audit_log "
                      "WHERE target_type = 'custom_pricing'"),
              "custom_pricing.create,custom_pricing.copy,custom_pricing.copy,"
              "custom_pricing.disable,custom_pricing.delete");
    EXPECT_EQ(
        w.query("SELECT count(*) FROM audit_log WHERE target_type LIKE 'custom_%' AND actor_id = " +
                std::to_string(w.user_id("viewer@example.com"))),
        "0");
}
