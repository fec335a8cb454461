// Address allocation on real PostgreSQL: concurrent allocations in one range never share an
// address, a rolled-back allocation frees its address, released addresses cool down, and an
// instance gets one address per family from its host's region.
#include "coordinator/ipam/allocator.hpp"
#include "coordinator/ipam/ipam_error.hpp"
#include "coordinator/store/migrations.hpp"
#include "tests/integration/test_helpers.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>

#include <latch>
#include <mutex>
#include <set>
#include <thread>

using namespace vpsfleet;
using namespace std::chrono_literals;

namespace {

struct world {
    std::string url = vpsfleet::testing::fresh_database();
    pqxx::connection conn{url};
    std::int64_t region = 0;
    std::int64_t host = 0;
    std::int64_t project = 0;

    world() {
        store::apply_migrations(conn, store::embedded_migrations());
        pqxx::work tx(conn);
        region = tx.exec1("SELECT id FROM regions WHERE name = 'default'")[0].as<std::int64_t>();
        host =
            tx.exec_params1("INSERT INTO hosts (name, region_id) VALUES ('hv1', $1) RETURNING id",
                            region)[0]
                .as<std::int64_t>();
        const auto user =
            tx.exec1("INSERT INTO users (email) VALUES ('o@example.com') RETURNING id")[0]
                .as<std::int64_t>();
        project = tx.exec_params1(
                        "INSERT INTO projects (uid, name, owner_user_id) "
                        "VALUES ('proj_t', 'T', $1) RETURNING id",
                        user)[0]
                      .as<std::int64_t>();
        tx.commit();
    }

    std::int64_t range(const std::string& cidr, const std::string& gateway,
                       const std::string& mode = "sequential", std::int64_t in_region = 0) {
        pqxx::work tx(conn);
        const auto id = tx.exec_params1(
                              "INSERT INTO ip_ranges (cidr, gateway, region_id, allocation_mode) "
                              "VALUES ($1::cidr, $2::inet, $3, $4) RETURNING id",
                              cidr, gateway, in_region ? in_region : region, mode)[0]
                            .as<std::int64_t>();
        tx.commit();
        return id;
    }

    std::int64_t instance(const std::string& name, const std::string& mac = "52:54:00:00:00:01") {
        pqxx::work tx(conn);
        const auto id =
            tx.exec_params1(
                  "INSERT INTO instances (uid, project_id, name, plan_id, image_id, libvirt_uuid, "
                  "mac) SELECT 'ins_' || $2, $1, $2, (SELECT min(id) FROM plans), "
                  "(SELECT min(id) FROM os_images), gen_random_uuid(), $3 RETURNING id",
                  project, name, mac)[0]
                .as<std::int64_t>();
        tx.commit();
        return id;
    }

    ipam::allocation allocate(std::int64_t range_id, std::int64_t instance_id,
                              std::chrono::milliseconds cooldown = 1h,
                              std::optional<std::string> ip = std::nullopt) {
        pqxx::work tx(conn);
        ipam::allocation_request r;
        r.range_id = range_id;
        r.instance_id = instance_id;
        r.mac = "52:54:00:00:00:01";
        r.ip = ip;
        auto a = ipam::allocate(tx, r, cooldown);
        tx.commit();
        return a;
    }

    std::string refusal(std::int64_t range_id, std::int64_t instance_id,
                        std::optional<std::string> ip = std::nullopt) {
        try {
            allocate(range_id, instance_id, 1h, std::move(ip));
        } catch (const ipam::ipam_error& e) {
            return e.code;
        }
        return "";
    }

    std::string scalar(const std::string& sql) { return vpsfleet::testing::query_text(conn, sql); }
};

}  // namespace

TEST(ipam_db, concurrent_allocations_in_one_range_never_share_an_address) {
    world w;
    const auto range = w.range("10.1.0.0/24", "10.1.0.1");
    constexpr int k_threads = 8;
    constexpr int k_total = 100;
    std::vector<std::int64_t> instances;
    for (int i = 0; i < k_total; ++i) instances.push_back(w.instance("vm-" + std::to_string(i)));

    std::mutex mutex;
    std::vector<std::string> got;
    std::vector<std::string> errors;
    std::latch start(k_threads);
    std::vector<std::thread> threads;
    const auto began = std::chrono::steady_clock::now();
    for (int t = 0; t < k_threads; ++t) {
        threads.emplace_back([&, t] {
            pqxx::connection conn(w.url);
            start.arrive_and_wait();
            for (int i = t; i < k_total; i += k_threads) {
                try {
                    pqxx::work tx(conn);
                    ipam::allocation_request r;
                    r.range_id = range;
                    r.instance_id = instances[static_cast<std::size_t>(i)];
                    const auto a = ipam::allocate(tx, r, 1h);
                    tx.commit();
                    const std::lock_guard lock(mutex);
                    got.push_back(a.ip);
                } catch (const std::exception& e) {
                    const std::lock_guard lock(mutex);
                    errors.push_back(e.what());
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - began);
    ASSERT_TRUE(errors.empty()) << errors.front();
    ASSERT_EQ(got.size(), 100u);
    const std::set<std::string> unique(got.begin(), got.end());
    EXPECT_EQ(unique.size(), 100u) << "an address was handed out twice";
    // Sequential and serialised: exactly the 100 lowest usable addresses, .2 to .101.
    EXPECT_TRUE(unique.contains("10.1.0.2"));
    EXPECT_TRUE(unique.contains("10.1.0.101"));
    EXPECT_FALSE(unique.contains("10.1.0.1")) << "the gateway";
    EXPECT_EQ(w.scalar("SELECT count(DISTINCT ip) FROM vm_ip_assignments WHERE deleted_at IS NULL"),
              "100");
    std::cout << "100 allocations from " << k_threads << " threads in one range: " << took.count()
              << " ms\n";
}

TEST(ipam_db, a_rolled_back_create_frees_its_address) {
    world w;
    const auto range = w.range("10.2.0.0/29", "10.2.0.1");
    const auto vm = w.instance("web");
    try {
        pqxx::work tx(w.conn);
        ipam::allocation_request r;
        r.range_id = range;
        r.instance_id = vm;
        EXPECT_EQ(ipam::allocate(tx, r, 1h).ip, "10.2.0.2");
        throw std::runtime_error("the create failed after allocating");
    } catch (const std::runtime_error&) {
    }
    EXPECT_EQ(w.scalar("SELECT count(*) FROM vm_ip_assignments"), "0");
    EXPECT_EQ(w.allocate(range, vm).ip, "10.2.0.2") << "the address is free again, at once";
}

TEST(ipam_db, released_addresses_cool_down_before_reuse) {
    world w;
    const auto range = w.range("10.3.0.0/29", "10.3.0.1");
    const auto a = w.instance("a");
    const auto b = w.instance("b");
    const auto c = w.instance("c");
    constexpr auto cooldown = 300ms;
    EXPECT_EQ(w.allocate(range, a, cooldown).ip, "10.3.0.2");
    {
        pqxx::work tx(w.conn);
        EXPECT_EQ(ipam::release_for_instance(tx, a).size(), 1u);
        tx.commit();
    }
    EXPECT_EQ(w.allocate(range, b, cooldown).ip, "10.3.0.3") << ".2 is cooling down";
    EXPECT_EQ(w.refusal(range, c, "10.3.0.3"), "ip_taken") << "live, even when asked for by name";
    std::this_thread::sleep_for(cooldown + 100ms);
    EXPECT_EQ(w.allocate(range, c, cooldown).ip, "10.3.0.2") << "cooled down";
    EXPECT_EQ(w.scalar("SELECT count(*) FROM vm_ip_assignments WHERE ip = '10.3.0.2'"), "2")
        << "the released row stays as history";
}

TEST(ipam_db, refusals_change_nothing) {
    world w;
    const auto range = w.range("10.4.0.0/30", "10.4.0.1");
    const auto vm = w.instance("web");
    EXPECT_EQ(w.refusal(range, vm, "10.5.0.2"), "ip_not_in_range");
    EXPECT_EQ(w.refusal(range, vm, "10.4.0.3"), "ip_not_usable") << "broadcast";
    EXPECT_EQ(w.refusal(range, vm, "10.4.0.1"), "ip_not_usable") << "gateway";
    EXPECT_EQ(w.refusal(range, vm, "not-an-ip"), "invalid_address");
    EXPECT_EQ(w.refusal(range + 100, vm), "range_not_found");
    EXPECT_EQ(w.allocate(range, vm).ip, "10.4.0.2");
    EXPECT_EQ(w.refusal(range, vm), "range_exhausted");
    EXPECT_EQ(w.refusal(range, vm, "10.4.0.2"), "ip_taken");
    {
        pqxx::work tx(w.conn);
        tx.exec_params("UPDATE ip_ranges SET enabled = false WHERE id = $1", range);
        tx.commit();
    }
    EXPECT_EQ(w.refusal(range, vm), "range_disabled");
    EXPECT_EQ(w.scalar("SELECT count(*) FROM vm_ip_assignments"), "1");
}

TEST(ipam_db, an_instance_gets_one_address_per_family_from_its_region) {
    world w;
    const auto vm = w.instance("web", "52:54:00:ab:cd:ef");
    auto assign = [&](std::int64_t instance) {
        pqxx::work tx(w.conn);
        auto out = ipam::assign_for_instance(tx, instance, w.host, "52:54:00:ab:cd:ef", 1h);
        tx.commit();
        return out;
    };
    try {
        assign(vm);
        ADD_FAILURE() << "no range yet";
    } catch (const ipam::ipam_error& e) {
        EXPECT_EQ(e.code, "no_ip_range");
        EXPECT_NE(std::string(e.what()).find("default"), std::string::npos) << e.what();
    }
    // A range of another region is not used.
    pqxx::work tx(w.conn);
    const auto other = tx.exec1("INSERT INTO regions (name) VALUES ('elsewhere') RETURNING id")[0]
                           .as<std::int64_t>();
    tx.commit();
    w.range("192.0.2.0/24", "192.0.2.1", "sequential", other);
    w.range("198.51.100.0/30", "198.51.100.1");  // one usable address
    w.range("203.0.113.0/24", "203.0.113.1");
    w.range("2001:db8:7::/64", "2001:db8:7::1", "slaac_eui64");

    const auto addresses = assign(vm);
    ASSERT_EQ(addresses.size(), 2u);
    EXPECT_EQ(addresses[0].ip, "198.51.100.2");
    EXPECT_EQ(addresses[0].prefix, 30);
    EXPECT_EQ(addresses[0].gateway, "198.51.100.1");
    EXPECT_EQ(addresses[1].ip, "2001:db8:7:0:5054:ff:feab:cdef");
    EXPECT_EQ(addresses[1].prefix, 64);
    EXPECT_EQ(assign(vm).size(), 2u) << "running it again allocates nothing more";
    EXPECT_EQ(w.scalar("SELECT count(*) FROM vm_ip_assignments"), "2");

    // The first range is full: the next instance gets its IPv4 address from the second one.
    const auto next = w.instance("db", "52:54:00:ab:cd:00");
    pqxx::work tx2(w.conn);
    const auto more = ipam::assign_for_instance(tx2, next, w.host, "52:54:00:ab:cd:00", 1h);
    tx2.commit();
    ASSERT_EQ(more.size(), 2u);
    EXPECT_EQ(more[0].ip, "203.0.113.2");
}
