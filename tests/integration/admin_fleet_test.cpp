// Admin API (LNVPS shapes) for regions, hosts and host disks on a real coordinator: pagination,
// validation in the admin error shape, live calculated_load, region deletion rules, permissions
// and the audit trail.
#include "tests/integration/api_fixture.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

using namespace vpsfleet::testing;
using json = nlohmann::json;

TEST(admin_fleet, regions_hosts_and_disks_round_trip_with_live_load) {
    admin_world w;
    auto r = w.call("POST", "/regions", {{"name", "eu-west"}});
    ASSERT_EQ(r.status, 201) << r.raw;
    const auto region = r.body["data"]["id"].get<std::int64_t>();
    EXPECT_EQ(w.call("POST", "/regions", {{"name", "EU-WEST"}}).status, 409);

    r = w.call("POST", "/hosts",
               {{"name", "hv1"},
                {"ip", "10.0.0.1"},
                {"kind", "vmware"},
                {"region_id", region},
                {"cpu", 16},
                {"memory", 64LL << 30}});
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(r.body, json({{"error", "kind has an unknown value 'vmware'"}}));
    r = w.call("POST", "/hosts",
               {{"name", "hv1"},
                {"ip", "10.0.0.1"},
                {"kind", "libvirt"},
                {"region_id", region},
                {"cpu", 16},
                {"memory", 64LL << 30},
                {"load_cpu", 2.0}});
    ASSERT_EQ(r.status, 201) << r.raw;
    const auto host = r.body["data"]["id"].get<std::int64_t>();
    EXPECT_EQ(r.body["data"]["region"]["name"], "eu-west");
    EXPECT_EQ(r.body["data"]["state"], "pending");
    EXPECT_EQ(r.body["data"]["calculated_load"]["available_cpu"], 32) << "16 cores at 2.0";

    r = w.call("POST", "/hosts/" + std::to_string(host) + "/disks",
               {{"name", "nvme0"}, {"size", 1LL << 40}, {"kind", "ssd"}, {"interface", "pcie"}});
    ASSERT_EQ(r.status, 201) << r.raw;
    const auto disk = r.body["data"]["id"].get<std::int64_t>();
    EXPECT_EQ(w.call("POST", "/hosts/" + std::to_string(host) + "/disks",
                     {{"name", "x"}, {"size", 1}, {"kind", "floppy"}, {"interface", "pcie"}})
                  .status,
              400);

    r = w.call("PATCH", "/hosts/" + std::to_string(host), {{"load_cpu", 1.5}, {"enabled", false}});
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["data"]["calculated_load"]["available_cpu"], 24);
    EXPECT_EQ(r.body["data"]["enabled"], false);
    EXPECT_EQ(r.body["data"]["disks"][0]["id"], disk);
    EXPECT_EQ(w.call("PATCH", "/hosts/" + std::to_string(host), {{"load_cpu", 0}}).status, 400);
    EXPECT_EQ(w.call("PATCH", "/hosts/" + std::to_string(host), {{"region_id", 999}}).status, 400);

    r = w.call("GET", "/hosts?limit=1", nullptr, w.viewer);
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(r.body["total"], 1);
    EXPECT_EQ(r.body["data"][0]["name"], "hv1");
    r = w.call("PATCH", "/hosts/" + std::to_string(host), {{"enabled", true}}, w.viewer);
    EXPECT_EQ(r.body, json({{"error", "missing permission: hosts::update"}}));
    EXPECT_EQ(w.call("GET", "/hosts/999").status, 404);

    // A region with hosts is disabled rather than deleted; an empty one goes.
    r = w.call("DELETE", "/regions/" + std::to_string(region));
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(w.call("GET", "/regions/" + std::to_string(region)).body["data"]["enabled"], false);
    const auto spare = w.call("POST", "/regions", {{"name", "spare"}}).body["data"]["id"];
    EXPECT_EQ(w.call("DELETE", "/regions/" + spare.dump()).status, 200);
    EXPECT_EQ(w.call("GET", "/regions/" + spare.dump()).status, 404);
    r = w.call("GET", "/regions");
    EXPECT_EQ(r.body["total"], 2) << "default and eu-west";

    pqxx::connection conn(w.db);
    pqxx::work tx(conn);
    const auto audit = tx.exec_params(
        "SELECT (before->>'enabled')::bool, (after->>'enabled')::bool FROM audit_log "
        "WHERE action = 'host.update' AND target_id = $1",
        std::to_string(host));
    ASSERT_EQ(audit.size(), 1u) << "the refused updates left no trace";
    EXPECT_TRUE(audit[0][0].as<bool>());
    EXPECT_FALSE(audit[0][1].as<bool>());
}
