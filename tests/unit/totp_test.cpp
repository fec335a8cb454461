#include "coordinator/auth/totp.hpp"

#include "common/secrets.hpp"

#include <gtest/gtest.h>

#include <set>

using namespace vpsfleet::auth;

namespace {

std::vector<unsigned char> bytes(std::string_view s) { return {s.begin(), s.end()}; }

std::chrono::system_clock::time_point at(std::int64_t unix_seconds) {
    return std::chrono::system_clock::time_point(std::chrono::seconds(unix_seconds));
}

const std::vector<unsigned char> k_rfc_key = bytes("12345678901234567890");

}  // namespace

TEST(totp, matches_the_rfc_6238_sha1_test_vectors) {
    struct vector {
        std::int64_t time;
        const char* code;
    };
    const vector vectors[] = {{59, "94287082"},         {1111111109, "07081804"},
                              {1111111111, "14050471"}, {1234567890, "89005924"},
                              {2000000000, "69279037"}, {20000000000, "65353130"}};
    for (const auto& v : vectors) {
        const auto step = static_cast<std::uint64_t>(v.time / 30);
        EXPECT_EQ(totp::code_at_step(k_rfc_key, step, 8), v.code) << v.time;
        // system_clock counts nanoseconds in 64 bits, which ends in 2262: the last vector is
        // checked by its step only.
        if (v.time < 9'000'000'000) {
            EXPECT_EQ(totp::step_at(at(v.time)), step) << v.time;
        }
    }
    // Six digits are the last six of the eight.
    EXPECT_EQ(totp::code_at_step(k_rfc_key, totp::step_at(at(59))), "287082");
}

TEST(totp, base32_matches_the_rfc_4648_vectors) {
    const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                           {"f", "MY======"},
                                                           {"fo", "MZXQ===="},
                                                           {"foo", "MZXW6==="},
                                                           {"foob", "MZXW6YQ="},
                                                           {"fooba", "MZXW6YTB"},
                                                           {"foobar", "MZXW6YTBOI======"}};
    for (const auto& [plain, encoded] : vectors) {
        EXPECT_EQ(totp::base32_encode(bytes(plain)), encoded);
        EXPECT_EQ(totp::base32_decode(encoded), bytes(plain)) << encoded;
        std::string unpadded(encoded);
        unpadded.erase(unpadded.find_last_not_of('=') + 1);
        EXPECT_EQ(totp::base32_encode(bytes(plain), false), unpadded);
        EXPECT_EQ(totp::base32_decode(unpadded), bytes(plain)) << unpadded;
    }
}

TEST(totp, base32_round_trips_random_secrets_and_forgives_case_and_spaces) {
    for (int i = 0; i < 50; ++i) {
        const auto secret = totp::generate_secret();
        ASSERT_EQ(secret.size(), 20u);
        const auto encoded = totp::base32_encode(secret, false);
        EXPECT_EQ(encoded.size(), 32u);
        EXPECT_EQ(totp::base32_decode(encoded), secret);
        std::string typed;
        for (std::size_t j = 0; j < encoded.size(); ++j) {
            if (j > 0 && j % 4 == 0) typed += ' ';
            typed += static_cast<char>(std::tolower(static_cast<unsigned char>(encoded[j])));
        }
        EXPECT_EQ(totp::base32_decode(typed), secret) << typed;
    }
    EXPECT_NE(totp::generate_secret(), totp::generate_secret());
}

TEST(totp, base32_rejects_what_is_not_base32) {
    EXPECT_FALSE(totp::base32_decode("MZXW1YQ="));  // '1' is not in the alphabet
    EXPECT_FALSE(totp::base32_decode("M"));         // a lone symbol holds no byte
    EXPECT_FALSE(totp::base32_decode("MZX"));
    EXPECT_FALSE(totp::base32_decode("MY=A"));       // data after padding
    EXPECT_FALSE(totp::base32_decode("MY==="));      // wrong amount of padding
    EXPECT_FALSE(totp::base32_decode("MZ"));         // non-zero leftover bits
    EXPECT_FALSE(totp::base32_decode("MZXW6YTB="));  // padding after a whole group
}

TEST(totp, otpauth_uri_names_issuer_and_account_and_carries_the_unpadded_secret) {
    EXPECT_EQ(
        totp::otpauth_uri("Example VPS", "alice@example.com", bytes("fooba!")),
        "otpauth://totp/Example%20VPS:alice@example.com?secret=MZXW6YTBEE&issuer=Example%20VPS");
    EXPECT_EQ(totp::otpauth_uri("A&B", "x:y?z", bytes("f")),
              "otpauth://totp/A%26B:x%3Ay%3Fz?secret=MY&issuer=A%26B");
}

TEST(totp, accepts_one_step_of_drift_either_way_and_returns_the_matched_step) {
    const auto secret = totp::generate_secret();
    const auto now = at(1'700'000'015);
    const auto step = totp::step_at(now);
    EXPECT_EQ(totp::verify(secret, totp::code_at_step(secret, step), now), step);
    EXPECT_EQ(totp::verify(secret, totp::code_at_step(secret, step - 1), now), step - 1);
    EXPECT_EQ(totp::verify(secret, totp::code_at_step(secret, step + 1), now), step + 1);
    // Typed with a space in the middle, as apps show it.
    const auto code = totp::code_at_step(secret, step);
    EXPECT_EQ(totp::verify(secret, code.substr(0, 3) + " " + code.substr(3), now), step);
}

TEST(totp, rejects_codes_outside_the_window_wrong_codes_and_malformed_input) {
    // A fixed key and time, so the codes are fixed too and none of them collides by chance.
    const auto now = at(1111111111);
    const auto step = totp::step_at(now);
    for (auto far : {step - 2, step + 2, step - 100, step + 100}) {
        EXPECT_FALSE(totp::verify(k_rfc_key, totp::code_at_step(k_rfc_key, far), now)) << far;
    }
    const auto good = totp::code_at_step(k_rfc_key, step);
    ASSERT_EQ(good, "050471");
    EXPECT_FALSE(totp::verify(k_rfc_key, "050472", now));
    EXPECT_FALSE(totp::verify(bytes("another secret key!!"), good, now));
    EXPECT_FALSE(totp::verify(k_rfc_key, good.substr(0, 5), now));
    EXPECT_FALSE(totp::verify(k_rfc_key, good + "0", now));
    EXPECT_FALSE(totp::verify(k_rfc_key, "05a471", now));
    EXPECT_FALSE(totp::verify(k_rfc_key, "", now));
}

TEST(totp, refuses_a_step_already_used) {
    const auto secret = totp::generate_secret();
    const auto now = at(1'700'000'015);
    const auto step = totp::step_at(now);
    const auto code = totp::code_at_step(secret, step);
    const auto first = totp::verify(secret, code, now);
    ASSERT_EQ(first, step);
    EXPECT_FALSE(totp::verify(secret, code, now, first));
    EXPECT_FALSE(totp::verify(secret, totp::code_at_step(secret, step - 1), now, first));
    EXPECT_EQ(totp::verify(secret, totp::code_at_step(secret, step + 1), now, first), step + 1);
}

TEST(totp, recovery_codes_are_distinct_readable_and_hash_from_what_a_person_types) {
    const auto codes = totp::generate_recovery_codes();
    ASSERT_EQ(codes.size(), 10u);
    EXPECT_EQ(std::set<std::string>(codes.begin(), codes.end()).size(), codes.size());
    std::set<char> symbols;
    for (const auto& code : codes) {
        ASSERT_EQ(code.size(), 14u);
        EXPECT_EQ(code[4], '-');
        EXPECT_EQ(code[9], '-');
        EXPECT_EQ(code.find_first_of("ilouILOU"), std::string::npos) << code;
        symbols.insert(code.begin(), code.end());
        EXPECT_EQ(totp::normalize_recovery_code(code), code);
        const auto hash = totp::hash_recovery_code(code);
        ASSERT_TRUE(hash);
        EXPECT_EQ(*hash, vpsfleet::secrets::sha256_hex(code));

        std::string typed;
        for (char c : code) {
            if (c == '-') continue;
            typed += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
        EXPECT_EQ(totp::hash_recovery_code(" " + typed + " "), hash) << typed;
    }
    // 120 random symbols from 32 cover far more than 20 of them (fewer has odds below 1e-9).
    EXPECT_GT(symbols.size(), 20u);
    EXPECT_NE(totp::generate_recovery_codes(), codes);
}

TEST(totp, recovery_code_input_forgives_look_alikes_and_rejects_the_rest) {
    EXPECT_EQ(totp::normalize_recovery_code("OIL2 3abc defg"), "0112-3abc-defg");
    EXPECT_EQ(totp::normalize_recovery_code("0112-3ABC-DEFG"), "0112-3abc-defg");
    EXPECT_FALSE(totp::normalize_recovery_code("abcd-efgh-jkm"));    // too short
    EXPECT_FALSE(totp::normalize_recovery_code("abcd-efgh-jkmnp"));  // too long
    EXPECT_FALSE(totp::normalize_recovery_code("abcd-efgh-jkmu"));   // 'u' is not used
    EXPECT_FALSE(totp::normalize_recovery_code("abcd_efgh_jkmn"));   // stray punctuation
    EXPECT_FALSE(totp::hash_recovery_code(""));
}
