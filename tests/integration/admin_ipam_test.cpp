// Admin API (LNVPS shapes) for IP address management on a real coordinator: ip_ranges,
// access_policies and routers CRUD with their refusals (a refused request changes nothing),
// permissions and the audit trail; vm_ip_assignments as jobs that allocate in the range, add and
// move and remove the static ARP entry on a fake MikroTik router over loopback, and undo an
// assignment whose router cannot be used.
#include "tests/integration/api_fixture.hpp"
#include "tests/support/fake_routeros.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

#include <thread>

using namespace vpsfleet::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

struct ipam_world : admin_world {
    std::int64_t default_region() const { return std::stoll(query("SELECT id FROM regions")); }
    // A VM row of the boss's, as an order would leave it (no host needed for IP assignments).
    std::int64_t vm(const std::string& name, const std::string& mac) const {
        pqxx::connection conn(db);
        pqxx::work tx(conn);
        const auto id =
            tx.exec_params1(
                  "INSERT INTO instances (uid, project_id, name, plan_id, image_id, libvirt_uuid, "
                  "mac) SELECT 'ins_' || $1, p.id, $1, (SELECT min(id) FROM plans), "
                  "(SELECT min(id) FROM os_images), gen_random_uuid(), $2 FROM projects p "
                  "JOIN users u ON u.id = p.owner_user_id WHERE u.email = 'boss@example.com' "
                  "ORDER BY p.id LIMIT 1 RETURNING id",
                  name, mac)[0]
                .as<std::int64_t>();
        tx.commit();
        return id;
    }
    // Waits for the job to finish; returns its state and error.
    std::pair<std::string, json> job(const std::string& uid) const {
        const auto until = std::chrono::steady_clock::now() + 15s;
        for (;;) {
            pqxx::connection conn(db);
            const auto r = pqxx::read_transaction(conn).exec_params1(
                "SELECT state, COALESCE(error::text, 'null') FROM jobs WHERE uid = $1", uid);
            const auto state = r[0].as<std::string>();
            if (state == "completed" || state == "failed" || state == "cancelled" ||
                std::chrono::steady_clock::now() > until) {
                return {state, json::parse(r[1].as<std::string>())};
            }
            std::this_thread::sleep_for(25ms);
        }
    }
    // Dispatches and waits: the reply must be 202 with a job.
    std::pair<std::string, json> run(const std::string& method, const std::string& path,
                                     const json& body = nullptr) const {
        const auto r = call(method, path, body);
        EXPECT_EQ(r.status, 202) << r.raw;
        EXPECT_EQ(r.body["data"]["job_dispatched"], true) << r.raw;
        if (!r.body["data"]["job_id"].is_string()) return {"none", r.body};
        return job(r.body["data"]["job_id"].get<std::string>());
    }
};

}  // namespace

TEST(admin_ipam, ranges_policies_and_routers_round_trip_and_refusals_change_nothing) {
    ipam_world w;
    const auto region = w.default_region();

    auto r = w.call("POST", "/routers",
                    {{"name", "edge-1"},
                     {"kind", "mikrotik"},
                     {"url", "https://10.0.0.254"},
                     {"token", "api:very-secret"}});
    ASSERT_EQ(r.status, 201) << r.raw;
    const auto router = r.body["data"]["id"].get<std::int64_t>();
    EXPECT_EQ(r.body["data"], json({{"id", router},
                                    {"name", "edge-1"},
                                    {"enabled", true},
                                    {"kind", "mikrotik"},
                                    {"url", "https://10.0.0.254"},
                                    {"access_policy_count", 0}}));
    EXPECT_EQ(w.query("SELECT position('very-secret' in encode(token, 'escape')) FROM routers"),
              "0")
        << "the token is sealed";
    for (const json& bad :
         {json{{"name", "x"}, {"kind", "cisco"}, {"url", "https://a"}, {"token", "t"}},
          json{{"name", "x"}, {"kind", "mikrotik"}, {"url", "ftp://a"}, {"token", "t"}},
          json{{"name", "x"}, {"kind", "mikrotik"}, {"url", "https://a"}},
          json{{"name", ""}, {"kind", "mikrotik"}, {"url", "https://a"}, {"token", "t"}}}) {
        r = w.call("POST", "/routers", bad);
        EXPECT_EQ(r.status, 400) << bad.dump() << " " << r.raw;
        EXPECT_TRUE(r.body["error"].is_string()) << r.raw;
    }
    r = w.call("POST", "/routers",
               {{"name", "ovh"},
                {"kind", "ovh_additional_ip"},
                {"url", "https://eu.api.ovh.com"},
                {"token", "k"}});
    EXPECT_EQ(r.status, 201) << "OVH is accepted as configuration: " << r.raw;
    EXPECT_EQ(w.query("SELECT count(*) FROM routers"), "2");

    r = w.call("POST", "/access_policies",
               {{"name", "arp on edge-1"}, {"router_id", router}, {"interface", "bridge-vms"}});
    ASSERT_EQ(r.status, 201) << r.raw;
    const auto policy = r.body["data"]["id"].get<std::int64_t>();
    EXPECT_EQ(r.body["data"]["kind"], "static_arp");
    EXPECT_EQ(r.body["data"]["router_name"], "edge-1");
    EXPECT_EQ(w.call("POST", "/access_policies", {{"name", "p"}, {"router_id", 999}}).status, 400);
    EXPECT_EQ(w.call("POST", "/access_policies", {{"name", "p"}, {"kind", "acl"}}).status, 400);

    r = w.call("POST", "/ip_ranges",
               {{"cidr", "192.0.2.0/24"},
                {"gateway", "192.0.2.1"},
                {"region_id", region},
                {"access_policy_id", policy},
                {"reserved", {"192.0.2.10"}}});
    ASSERT_EQ(r.status, 201) << r.raw;
    const auto range = r.body["data"]["id"].get<std::int64_t>();
    EXPECT_EQ(r.body["data"], json({{"id", range},
                                    {"cidr", "192.0.2.0/24"},
                                    {"gateway", "192.0.2.1"},
                                    {"enabled", true},
                                    {"region_id", region},
                                    {"region_name", "default"},
                                    {"reverse_zone_id", nullptr},
                                    {"access_policy_id", policy},
                                    {"access_policy_name", "arp on edge-1"},
                                    {"allocation_mode", "sequential"},
                                    {"use_full_range", false},
                                    {"assignment_count", 0},
                                    {"reserved", {"192.0.2.10"}}}));

    const json base = {
        {"cidr", "198.51.100.0/24"}, {"gateway", "198.51.100.1"}, {"region_id", region}};
    auto with = [&](const char* key, const json& value) {
        json b = base;
        b[key] = value;
        return b;
    };
    for (const json& bad :
         {with("cidr", "198.51.100.0/33"), with("cidr", "198.51.100.7/24"), with("cidr", "banana"),
          with("gateway", "203.0.113.1"), with("gateway", "nope"), with("gateway", "2001:db8::1"),
          with("region_id", 999), with("access_policy_id", 999),
          with("allocation_mode", "slaac_eui64"), with("allocation_mode", "weird"),
          with("reserved", json::array({"203.0.113.5"})), with("reserved", "198.51.100.5"),
          json{{"cidr", "198.51.100.0/24"}, {"region_id", region}}}) {
        r = w.call("POST", "/ip_ranges", bad);
        EXPECT_EQ(r.status, 400) << bad.dump() << " " << r.raw;
        EXPECT_TRUE(r.body["error"].is_string()) << r.raw;
    }
    r = w.call("POST", "/ip_ranges",
               {{"cidr", "192.0.2.128/25"}, {"gateway", "192.0.2.129"}, {"region_id", region}});
    EXPECT_EQ(r.status, 409) << r.raw;
    EXPECT_NE(r.body["error"].get<std::string>().find("overlaps"), std::string::npos) << r.raw;
    EXPECT_EQ(w.query("SELECT count(*) FROM ip_ranges"), "1") << "refusals changed nothing";

    r = w.call("POST", "/ip_ranges",
               {{"cidr", "2001:db8:9::/64"},
                {"gateway", "2001:db8:9::1"},
                {"region_id", region},
                {"allocation_mode", "slaac_eui64"}});
    ASSERT_EQ(r.status, 201) << r.raw;
    const auto v6 = r.body["data"]["id"].get<std::int64_t>();

    r = w.call("GET", "/ip_ranges?region_id=" + std::to_string(region) + "&limit=1", nullptr,
               w.viewer);
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["total"], 2);
    EXPECT_EQ(r.body["limit"], 1);
    EXPECT_EQ(r.body["data"].size(), 1u);
    EXPECT_EQ(w.call("GET", "/ip_ranges?region_id=999").body["total"], 0);
    EXPECT_EQ(w.call("GET", "/ip_ranges/" + std::to_string(v6)).body["data"]["cidr"],
              "2001:db8:9::/64");
    EXPECT_EQ(w.call("GET", "/ip_ranges/999").status, 404);

    r = w.call("PATCH", "/ip_ranges/" + std::to_string(range), {{"gateway", "10.0.0.1"}});
    EXPECT_EQ(r.status, 400) << r.raw;
    r = w.call("PATCH", "/ip_ranges/" + std::to_string(range),
               {{"enabled", false}, {"use_full_range", true}, {"reverse_zone_id", "Z123"}});
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["data"]["enabled"], false);
    EXPECT_EQ(r.body["data"]["use_full_range"], true);
    EXPECT_EQ(r.body["data"]["gateway"], "192.0.2.1");
    EXPECT_EQ(r.body["data"]["reverse_zone_id"], "Z123");
    r = w.call("PATCH", "/ip_ranges/" + std::to_string(range), {{"access_policy_id", nullptr}});
    EXPECT_EQ(r.body["data"]["access_policy_id"], nullptr);
    EXPECT_EQ(r.body["data"]["access_policy_name"], nullptr);
    w.call("PATCH", "/ip_ranges/" + std::to_string(range), {{"access_policy_id", policy}});

    // What is in use cannot go.
    r = w.call("DELETE", "/routers/" + std::to_string(router));
    EXPECT_EQ(r.status, 409) << r.raw;
    r = w.call("DELETE", "/access_policies/" + std::to_string(policy));
    EXPECT_EQ(r.status, 409) << r.raw;
    EXPECT_EQ(
        w.call("GET", "/access_policies/" + std::to_string(policy)).body["data"]["ip_range_count"],
        1);
    EXPECT_EQ(w.call("GET", "/routers").body["data"][0]["access_policy_count"], 1);

    r = w.call("POST", "/ip_ranges", base, w.viewer);
    EXPECT_EQ(r.status, 403);
    EXPECT_EQ(r.body, json({{"error", "missing permission: ip_range::create"}}));
    EXPECT_EQ(w.call("DELETE", "/routers/" + std::to_string(router), nullptr, w.viewer).status,
              403);

    r = w.call("PATCH", "/routers/" + std::to_string(router), {{"token", "api:rotated"}});
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_FALSE(r.body["data"].contains("token"));

    // Delete in dependency order.
    EXPECT_EQ(w.call("DELETE", "/ip_ranges/" + std::to_string(range)).status, 200);
    EXPECT_EQ(w.call("DELETE", "/access_policies/" + std::to_string(policy)).status, 200);
    EXPECT_EQ(w.call("DELETE", "/routers/" + std::to_string(router)).status, 200);
    EXPECT_EQ(w.call("GET", "/ip_ranges/" + std::to_string(range)).status, 404);

    EXPECT_EQ(w.query("SELECT count(*) FROM audit_log WHERE action LIKE 'ip_range.%'"), "6");
    EXPECT_EQ(w.query("SELECT count(*) FROM audit_log WHERE action LIKE 'router.%'"), "4");
    EXPECT_EQ(w.query("SELECT count(*) FROM audit_log WHERE (before::text || after::text) "
                      "LIKE '%rotated%' OR (before::text || after::text) LIKE '%very-secret%'"),
              "0")
        << "router tokens never reach the audit log";
}

TEST(admin_ipam, assignments_are_jobs_that_allocate_and_keep_the_router_in_step) {
    ipam_world w;
    fake_routeros router;
    const auto region = w.default_region();
    auto r = w.call(
        "POST", "/routers",
        {{"name", "edge"}, {"kind", "mikrotik"}, {"url", router.url()}, {"token", router.token()}});
    ASSERT_EQ(r.status, 201) << r.raw;
    r = w.call("POST", "/access_policies",
               {{"name", "arp"}, {"router_id", r.body["data"]["id"]}, {"interface", "bridge-vms"}});
    ASSERT_EQ(r.status, 201) << r.raw;
    r = w.call("POST", "/ip_ranges",
               {{"cidr", "192.0.2.0/24"},
                {"gateway", "192.0.2.1"},
                {"region_id", region},
                {"access_policy_id", r.body["data"]["id"]}});
    ASSERT_EQ(r.status, 201) << r.raw;
    const auto range = r.body["data"]["id"].get<std::int64_t>();
    const auto vm = w.vm("web", "52:54:00:aa:bb:cc");
    const auto user = std::stoll(w.query("SELECT id FROM users WHERE email = 'boss@example.com'"));

    auto [state, error] =
        w.run("POST", "/vm_ip_assignments", {{"vm_id", vm}, {"ip_range_id", range}});
    ASSERT_EQ(state, "completed") << error.dump();
    r = w.call("GET", "/vm_ip_assignments?vm_id=" + std::to_string(vm));
    ASSERT_EQ(r.status, 200) << r.raw;
    ASSERT_EQ(r.body["total"], 1) << r.raw;
    const json first = r.body["data"][0];
    const auto first_id = first["id"].get<std::int64_t>();
    EXPECT_EQ(first["ip"], "192.0.2.2") << "the lowest usable address after the gateway";
    EXPECT_EQ(first["vm_id"], vm);
    EXPECT_EQ(first["user_id"], user);
    EXPECT_EQ(first["region_id"], region);
    EXPECT_EQ(first["region_name"], "default");
    EXPECT_EQ(first["ip_range_cidr"], "192.0.2.0/24");
    EXPECT_EQ(first["deleted"], false);
    ASSERT_TRUE(first["arp_ref"].is_string()) << first.dump();
    auto table = router.arp_table();
    ASSERT_EQ(table.size(), 1u);
    EXPECT_EQ(table[0].id, first["arp_ref"]);
    EXPECT_EQ(table[0].address, "192.0.2.2");
    EXPECT_EQ(table[0].mac_address, "52:54:00:AA:BB:CC");
    EXPECT_EQ(table[0].interface, "bridge-vms");

    std::tie(state, error) = w.run("POST", "/vm_ip_assignments",
                                   {{"vm_id", vm},
                                    {"ip_range_id", range},
                                    {"ip", "192.0.2.50"},
                                    {"dns_reverse", "Web.Example.com."}});
    ASSERT_EQ(state, "completed") << error.dump();
    r = w.call("GET", "/vm_ip_assignments?ip=192.0.2.50");
    ASSERT_EQ(r.body["total"], 1) << r.raw;
    EXPECT_EQ(r.body["data"][0]["dns_reverse"], "web.example.com");
    const auto second = r.body["data"][0]["id"].get<std::int64_t>();
    EXPECT_EQ(w.call("GET", "/ip_ranges/" + std::to_string(range)).body["data"]["assignment_count"],
              2);

    // Refused before any job: nothing is dispatched, nothing changes.
    const std::string jobs_before = w.query("SELECT count(*) FROM jobs");
    struct refusal {
        json body;
        int status;
    };
    for (const auto& [body, status] : std::vector<refusal>{
             {{{"vm_id", vm}, {"ip_range_id", range}, {"ip", "198.51.100.2"}}, 400},
             {{{"vm_id", vm}, {"ip_range_id", range}, {"ip", "192.0.2.1"}}, 400},
             {{{"vm_id", vm}, {"ip_range_id", range}, {"ip", "192.0.2.255"}}, 400},
             {{{"vm_id", vm}, {"ip_range_id", range}, {"ip", "192.0.2.2"}}, 409},
             {{{"vm_id", vm}, {"ip_range_id", range}, {"ip", "192.0.2.x"}}, 400},
             {{{"vm_id", vm}, {"ip_range_id", range}, {"dns_reverse", "bad_name.example"}}, 400},
             {{{"vm_id", vm}, {"ip_range_id", range}, {"dns_forward", "single"}}, 400},
             {{{"vm_id", 999}, {"ip_range_id", range}}, 400},
             {{{"vm_id", vm}, {"ip_range_id", 999}}, 400},
             {{{"ip_range_id", range}}, 400}}) {
        r = w.call("POST", "/vm_ip_assignments", body);
        EXPECT_EQ(r.status, status) << body.dump() << " " << r.raw;
        EXPECT_TRUE(r.body["error"].is_string()) << r.raw;
    }
    r = w.call("PATCH", "/vm_ip_assignments/" + std::to_string(first_id), {{"ip", "192.0.2.50"}});
    EXPECT_EQ(r.status, 409) << r.raw;
    r = w.call("PATCH", "/vm_ip_assignments/" + std::to_string(first_id),
               {{"dns_forward", "-bad.example.com"}});
    EXPECT_EQ(r.status, 400) << r.raw;
    EXPECT_EQ(w.call("PATCH", "/vm_ip_assignments/999", {{"dns_forward", "a.example.com"}}).status,
              404);
    EXPECT_EQ(w.query("SELECT count(*) FROM jobs"), jobs_before);
    EXPECT_EQ(w.query("SELECT count(*) FROM vm_ip_assignments"), "2");
    r = w.call("POST", "/vm_ip_assignments", {{"vm_id", vm}, {"ip_range_id", range}}, w.viewer);
    EXPECT_EQ(r.body, json({{"error", "missing permission: virtual_machines::update"}}));
    EXPECT_EQ(w.call("GET", "/vm_ip_assignments", nullptr, w.viewer).status, 200);

    // A new address moves the router's entry with it.
    std::tie(state, error) = w.run("PATCH", "/vm_ip_assignments/" + std::to_string(first_id),
                                   {{"ip", "192.0.2.60"}, {"dns_forward", "web.example.com"}});
    ASSERT_EQ(state, "completed") << error.dump();
    r = w.call("GET", "/vm_ip_assignments/" + std::to_string(first_id));
    EXPECT_EQ(r.body["data"]["ip"], "192.0.2.60");
    EXPECT_EQ(r.body["data"]["dns_forward"], "web.example.com");
    table = router.arp_table();
    std::set<std::string> on_router;
    for (const auto& row : table) on_router.insert(row.address);
    EXPECT_EQ(on_router, (std::set<std::string>{"192.0.2.50", "192.0.2.60"}));

    // In use: the range stays.
    EXPECT_EQ(w.call("DELETE", "/ip_ranges/" + std::to_string(range)).status, 409);

    for (const auto id : {first_id, second}) {
        std::tie(state, error) = w.run("DELETE", "/vm_ip_assignments/" + std::to_string(id));
        ASSERT_EQ(state, "completed") << error.dump();
    }
    EXPECT_TRUE(router.arp_table().empty());
    r = w.call("GET", "/vm_ip_assignments/" + std::to_string(first_id));
    EXPECT_EQ(r.body["data"]["deleted"], true);
    EXPECT_EQ(w.call("GET", "/vm_ip_assignments?vm_id=" + std::to_string(vm)).body["total"], 0);
    EXPECT_EQ(w.call("GET", "/vm_ip_assignments?include_deleted=true&vm_id=" + std::to_string(vm))
                  .body["total"],
              3)
        << "both assignments and the address the update released";
    EXPECT_EQ(w.call("DELETE", "/vm_ip_assignments/" + std::to_string(first_id)).status, 409);
    EXPECT_EQ(w.call("DELETE", "/ip_ranges/" + std::to_string(range)).status, 200);
    EXPECT_EQ(w.query("SELECT count(*) FROM audit_log WHERE action LIKE 'vm_ip_assignment.%'"),
              "5");
}

TEST(admin_ipam, an_assignment_whose_router_cannot_be_used_is_undone) {
    ipam_world w;
    auto r = w.call("POST", "/routers",
                    {{"name", "ovh"},
                     {"kind", "ovh_additional_ip"},
                     {"url", "https://eu.api.ovh.com/1.0"},
                     {"token", "app:secret"}});
    ASSERT_EQ(r.status, 201) << r.raw;
    r = w.call("POST", "/access_policies",
               {{"name", "ovh arp"}, {"router_id", r.body["data"]["id"]}});
    ASSERT_EQ(r.status, 201) << r.raw;
    r = w.call("POST", "/ip_ranges",
               {{"cidr", "203.0.113.7/32"},
                {"gateway", "203.0.113.254"},
                {"region_id", w.default_region()},
                {"access_policy_id", r.body["data"]["id"]}});
    ASSERT_EQ(r.status, 201) << "a single address keeps its gateway elsewhere: " << r.raw;
    const auto range = r.body["data"]["id"].get<std::int64_t>();
    const auto vm = w.vm("db", "52:54:00:01:02:03");

    const auto [state, error] =
        w.run("POST", "/vm_ip_assignments", {{"vm_id", vm}, {"ip_range_id", range}});
    EXPECT_EQ(state, "failed");
    EXPECT_EQ(error["code"], "router_not_supported") << error.dump();
    EXPECT_EQ(w.query("SELECT count(*) FROM vm_ip_assignments WHERE deleted_at IS NULL"), "0")
        << "the assignment was undone";
    EXPECT_EQ(w.call("GET", "/ip_ranges/" + std::to_string(range)).body["data"]["assignment_count"],
              0);
}
