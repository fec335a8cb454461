#include "coordinator/auth/password.hpp"

#include <gtest/gtest.h>

using namespace vpsfleet::auth;

TEST(password, hash_is_argon2id_and_verifies_only_the_right_password) {
    const auto hash = hash_password("correct horse battery staple");
    EXPECT_TRUE(hash.starts_with("$argon2id$")) << hash;
    EXPECT_EQ(hash.find("correct horse"), std::string::npos);
    EXPECT_TRUE(verify_password(hash, "correct horse battery staple"));
    EXPECT_FALSE(verify_password(hash, "correct horse battery stapler"));
}

TEST(password, same_password_hashes_differently_each_time) {
    EXPECT_NE(hash_password("pw"), hash_password("pw"));
}

TEST(password, generated_passwords_are_long_distinct_and_unambiguous) {
    const auto a = generate_password();
    const auto b = generate_password();
    EXPECT_EQ(a.size(), 24u);
    EXPECT_NE(a, b);
    EXPECT_EQ(a.find_first_of("0O1lI"), std::string::npos);
}
