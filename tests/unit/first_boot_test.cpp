// The instance password's crypt(3) form: something a guest's /etc/shadow accepts for exactly that
// password (checked with libxcrypt's own crypt_r, as PAM would), with a fresh salt every time.
#include "coordinator/instances/first_boot.hpp"

#include <crypt.h>
#include <gtest/gtest.h>

#include <memory>

using vpsfleet::instances::sha512_crypt;

namespace {

bool shadow_accepts(const std::string& hash, const std::string& password) {
    const auto data = std::make_unique<crypt_data>();
    const char* again = crypt_r(password.c_str(), hash.c_str(), data.get());
    return again != nullptr && hash == again;
}

}  // namespace

TEST(first_boot, the_password_hash_is_sha512_crypt_and_accepts_only_that_password) {
    const auto hash = sha512_crypt("Tr0ub4dor&3");
    EXPECT_TRUE(hash.starts_with("$6$")) << hash;
    EXPECT_TRUE(shadow_accepts(hash, "Tr0ub4dor&3"));
    EXPECT_FALSE(shadow_accepts(hash, "Tr0ub4dor&4"));
    EXPECT_NE(sha512_crypt("Tr0ub4dor&3"), hash) << "the salt must differ each time";
}
