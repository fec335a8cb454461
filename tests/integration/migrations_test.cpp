#include "coordinator/store/migrations.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

using namespace vpsfleet::store;
using vpsfleet::testing::fresh_database;

namespace {

int recorded_rows(const std::string& url) {
    pqxx::connection conn(url);
    return pqxx::read_transaction(conn)
        .exec("SELECT count(*) FROM schema_migrations")[0][0]
        .as<int>();
}

bool table_exists(const std::string& url, const std::string& table) {
    pqxx::connection conn(url);
    pqxx::read_transaction tx(conn);
    return tx.exec_params("SELECT to_regclass($1) IS NOT NULL", table)[0][0].as<bool>();
}

}  // namespace

TEST(migrations, embedded_set_is_ordered_and_starts_at_one) {
    const auto& all = embedded_migrations();
    ASSERT_FALSE(all.empty());
    for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i].version, static_cast<int>(i + 1));
}

TEST(migrations, apply_once_then_nothing_to_do) {
    const auto url = fresh_database();
    pqxx::connection conn(url);
    const auto n = static_cast<int>(embedded_migrations().size());

    const auto first = apply_migrations(conn, embedded_migrations());
    EXPECT_EQ(first.applied_now, n);
    EXPECT_EQ(first.already_applied, 0);
    EXPECT_TRUE(table_exists(url, "users"));

    const auto second = apply_migrations(conn, embedded_migrations());
    EXPECT_EQ(second.applied_now, 0);
    EXPECT_EQ(second.already_applied, n);
    EXPECT_EQ(recorded_rows(url), n);
    EXPECT_EQ(count_applied(conn, embedded_migrations()), n);
}

TEST(migrations, concurrent_coordinators_apply_each_migration_exactly_once) {
    const auto url = fresh_database();
    constexpr int k_racers = 8;
    std::atomic<int> applied{0};
    std::atomic<int> failures{0};
    std::vector<std::thread> racers;
    for (int i = 0; i < k_racers; ++i) {
        racers.emplace_back([&] {
            try {
                pqxx::connection conn(url);
                applied += apply_migrations(conn, embedded_migrations()).applied_now;
            } catch (...) {
                ++failures;
            }
        });
    }
    for (auto& t : racers) t.join();
    EXPECT_EQ(failures, 0);
    EXPECT_EQ(applied, static_cast<int>(embedded_migrations().size()));
    EXPECT_EQ(recorded_rows(url), static_cast<int>(embedded_migrations().size()));
}

TEST(migrations, a_failing_migration_leaves_no_trace_and_stops_the_sequence) {
    const auto url = fresh_database();
    pqxx::connection conn(url);
    const std::vector<migration> set{
        {1, "0001_good", "CREATE TABLE good (id int)"},
        {2, "0002_bad", "CREATE TABLE half (id int); SELECT no_such_function()"},
        {3, "0003_after", "CREATE TABLE after_bad (id int)"},
    };
    EXPECT_THROW(apply_migrations(conn, set), pqxx::sql_error);
    EXPECT_TRUE(table_exists(url, "good"));
    EXPECT_FALSE(table_exists(url, "half"));
    EXPECT_FALSE(table_exists(url, "after_bad"));
    EXPECT_EQ(recorded_rows(url), 1);
}

TEST(migrations, refuses_an_applied_migration_whose_sql_changed) {
    const auto url = fresh_database();
    pqxx::connection conn(url);
    apply_migrations(conn, {{1, "0001_t", "CREATE TABLE t (id int)"}});
    try {
        apply_migrations(conn, {{1, "0001_t", "CREATE TABLE t (id bigint)"}});
        FAIL() << "edited migration accepted";
    } catch (const migration_conflict& e) {
        EXPECT_NE(std::string(e.what()).find("was changed after it was applied"),
                  std::string::npos);
    }
}

TEST(migrations, refuses_a_database_migrated_by_a_newer_coordinator) {
    const auto url = fresh_database();
    pqxx::connection conn(url);
    apply_migrations(conn, {{1, "0001_a", "SELECT 1"}, {2, "0002_b", "SELECT 2"}});
    EXPECT_THROW(apply_migrations(conn, {{1, "0001_a", "SELECT 1"}}), migration_conflict);
}
