// Pure pieces of the API layer: permission patterns, the rate-limit window, access-token
// signatures and sealed secrets.
#include "coordinator/api/rate_limiter.hpp"
#include "coordinator/auth/access_tokens.hpp"
#include "coordinator/auth/rbac.hpp"
#include "coordinator/auth/secret_box.hpp"

#include <gtest/gtest.h>

using namespace vpsfleet;
using namespace std::chrono_literals;

TEST(rbac, wildcards_match_resource_or_action) {
    EXPECT_TRUE(auth::grants("*::*", "users::view"));
    EXPECT_TRUE(auth::grants("users::*", "users::delete"));
    EXPECT_TRUE(auth::grants("*::view", "hosts::view"));
    EXPECT_FALSE(auth::grants("*::view", "hosts::update"));
    EXPECT_FALSE(auth::grants("users::view", "users::update"));
    EXPECT_FALSE(auth::grants("user::view", "users::view"));
    EXPECT_TRUE(auth::allows({"hosts::view", "users::*"}, "users::update"));
    EXPECT_FALSE(auth::allows({}, "users::view"));
}

TEST(rbac, permission_syntax) {
    EXPECT_TRUE(auth::valid_permission("virtual_machines::view"));
    EXPECT_TRUE(auth::valid_permission("*::view"));
    EXPECT_FALSE(auth::valid_permission("users"));
    EXPECT_FALSE(auth::valid_permission("Users::view"));
    EXPECT_FALSE(auth::valid_permission("users::"));
    EXPECT_FALSE(auth::valid_permission("users::view\""));
}

TEST(rate_limiter, counts_per_bucket_and_resets_on_the_window_boundary) {
    api::rate_limiter limiter(60s);
    const auto t0 = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'080));
    EXPECT_EQ(limiter.take("a", 2, t0).remaining, 1);
    EXPECT_EQ(limiter.take("a", 2, t0 + 1s).remaining, 0);
    const auto refused = limiter.take("a", 2, t0 + 2s);
    EXPECT_FALSE(refused.allowed);
    // 1'700'000'080 is 40 s into a minute, so the window ends 20 s after t0.
    EXPECT_EQ(refused.retry_after, 18);
    EXPECT_EQ(refused.reset_unix, 1'700'000'100);
    EXPECT_TRUE(limiter.take("b", 2, t0 + 2s).allowed) << "buckets are independent";
    EXPECT_TRUE(limiter.take("a", 2, t0 + 20s).allowed) << "a new window";
}

TEST(access_tokens, verify_refuses_tampering_other_keys_and_expiry) {
    const auth::token_signer signer(std::vector<unsigned char>(32, 7));
    const auth::token_signer other(std::vector<unsigned char>(32, 8));
    const auth::access_claims claims{42, "usr_x", "fam_1", 1000, 2000};
    const std::string token = signer.sign(claims);
    const auto ok = signer.verify(token, 1500);
    ASSERT_TRUE(ok);
    EXPECT_EQ(ok->user_id, 42);
    EXPECT_EQ(ok->family, "fam_1");
    EXPECT_FALSE(signer.verify(token, 2000)) << "expired";
    EXPECT_FALSE(other.verify(token, 1500)) << "another key";
    std::string tampered = token;
    tampered[tampered.find('.') + 3] ^= 1;
    EXPECT_FALSE(signer.verify(tampered, 1500));
    EXPECT_FALSE(signer.verify("a.b", 1500));
    EXPECT_FALSE(signer.verify("", 1500));
}

TEST(secret_box, round_trips_and_detects_alteration) {
    const auth::secret_box box(std::vector<unsigned char>(32, 1));
    const std::vector<unsigned char> plain{1, 2, 3, 4};
    auto sealed = box.seal(plain);
    EXPECT_EQ(box.open(sealed), plain);
    EXPECT_NE(box.seal(plain), sealed) << "fresh nonce each time";
    sealed.back() ^= 1;
    EXPECT_FALSE(box.open(sealed));
    EXPECT_FALSE(box.open("short"));
}
