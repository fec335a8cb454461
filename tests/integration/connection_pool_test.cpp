#include "coordinator/store/connection_pool.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>

#include <optional>

using namespace vpsfleet::store;
using vpsfleet::testing::throwaway_postgres;
using namespace std::chrono_literals;

namespace {
int select_one(connection_pool& pool) {
    return pool.with_connection([](pqxx::connection& c) {
        return pqxx::nontransaction(c).exec("SELECT 1")[0][0].as<int>();
    });
}
}  // namespace

TEST(connection_pool, never_opens_more_than_its_capacity) {
    connection_pool pool(vpsfleet::testing::fresh_database(), 2, 200ms);
    auto a = pool.acquire();
    auto b = pool.acquire();
    EXPECT_EQ(pool.stats().in_use, 2u);
    const auto started = std::chrono::steady_clock::now();
    EXPECT_THROW(pool.acquire(), pool_exhausted);
    EXPECT_GE(std::chrono::steady_clock::now() - started, 200ms);
}

TEST(connection_pool, reuses_returned_connections) {
    connection_pool pool(vpsfleet::testing::fresh_database(), 4, 1s);
    for (int i = 0; i < 10; ++i) EXPECT_EQ(select_one(pool), 1);
    EXPECT_EQ(pool.stats().open, 1u);
    EXPECT_EQ(pool.stats().in_use, 0u);
}

TEST(connection_pool, fails_cleanly_while_postgres_is_down_and_recovers_when_it_is_back) {
    throwaway_postgres pg;
    connection_pool pool(pg.url() + " connect_timeout=2", 2, 1s);
    EXPECT_EQ(select_one(pool), 1);

    pg.stop();
    EXPECT_ANY_THROW(select_one(pool));
    EXPECT_ANY_THROW(select_one(pool));
    EXPECT_EQ(pool.stats().in_use, 0u);

    pg.start();
    // The connection cut by the restart is dropped, never handed out again.
    std::optional<int> result;
    for (int attempt = 0; attempt < 2 && !result; ++attempt) {
        try {
            result = select_one(pool);
        } catch (const pqxx::broken_connection&) {
        }
    }
    EXPECT_EQ(result, 1);
    EXPECT_EQ(select_one(pool), 1);
    EXPECT_GE(pool.stats().connect_failures, 1u);
}
