#include "coordinator/auth/first_admin.hpp"
#include "coordinator/auth/password.hpp"
#include "coordinator/store/migrations.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>

using namespace vpsfleet;

TEST(first_admin, is_created_once_with_a_stored_hash_that_verifies) {
    pqxx::connection conn(vpsfleet::testing::fresh_database());
    store::apply_migrations(conn, store::embedded_migrations());

    const auto created = auth::create_first_admin(conn, "Ops@Example.com");
    ASSERT_TRUE(created);
    const auto row = pqxx::read_transaction(conn).exec(
        "SELECT password_hash, is_admin, email_verified FROM users "
        "WHERE lower(email) = 'ops@example.com'");
    ASSERT_EQ(row.size(), 1u);
    EXPECT_TRUE(row[0][1].as<bool>());
    EXPECT_TRUE(row[0][2].as<bool>()) << "the operator's own address needs no mailed link";
    const auto hash = row[0][0].as<std::string>();
    EXPECT_NE(hash, created->password);
    EXPECT_TRUE(auth::verify_password(hash, created->password));

    EXPECT_FALSE(auth::create_first_admin(conn, "second@example.com"));
}

TEST(first_admin, emails_are_unique_regardless_of_case) {
    pqxx::connection conn(vpsfleet::testing::fresh_database());
    store::apply_migrations(conn, store::embedded_migrations());
    pqxx::work tx(conn);
    tx.exec("INSERT INTO users (email) VALUES ('a@example.com')");
    EXPECT_THROW(tx.exec("INSERT INTO users (email) VALUES ('A@EXAMPLE.COM')"),
                 pqxx::unique_violation);
}
