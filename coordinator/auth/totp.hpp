#pragma once
// TOTP second factor (RFC 6238 over RFC 4226's HOTP, HMAC-SHA1, 30 s steps, 6 digits) and one-time
// recovery codes. Secrets come from OpenSSL's CSPRNG, codes from OpenSSL's HMAC, comparisons are
// constant-time. Storage is the caller's: the secret as base32, recovery codes only as hashes.
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vpsfleet::auth::totp {

constexpr std::chrono::seconds k_step{30};
constexpr int k_digits = 6;
constexpr std::size_t k_secret_bytes = 20;  // 160 bits, RFC 4226's recommendation
constexpr std::size_t k_recovery_codes = 10;

using secret = std::vector<unsigned char>;

secret generate_secret();

// RFC 4648 base32 (upper case). otpauth URIs and authenticator apps want it without padding.
std::string base32_encode(std::span<const unsigned char> data, bool pad = true);
// Accepts either case, optional '=' padding, and spaces (as apps display secrets in groups);
// nullopt for anything else.
std::optional<std::vector<unsigned char>> base32_decode(std::string_view text);

// otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=ISSUER, for the enrolment QR code.
std::string otpauth_uri(std::string_view issuer, std::string_view account,
                        std::span<const unsigned char> key);

// The time step a moment falls in (Unix time / 30 s).
std::uint64_t step_at(std::chrono::system_clock::time_point t);
// The code for one time step; digits is 6 in use, 8 for RFC 6238's test vectors.
std::string code_at_step(std::span<const unsigned char> key, std::uint64_t step,
                         int digits = k_digits);

// Checks a code against the steps around `now` (one step either side, for clock drift and typing
// time) and returns the step it matched. A step at or before `last_used_step` is refused, so a
// caller that stores the returned step refuses a code seen once already (replay).
std::optional<std::uint64_t> verify(std::span<const unsigned char> key, std::string_view code,
                                    std::chrono::system_clock::time_point now,
                                    std::optional<std::uint64_t> last_used_step = std::nullopt,
                                    int window = 1);

// Recovery codes: "xxxx-xxxx-xxxx" from an alphabet without look-alikes (no i, l, o, u), 60 bits
// each, so their unsalted SHA-256 is too costly to search should the hashes leak.
std::vector<std::string> generate_recovery_codes(std::size_t count = k_recovery_codes);
// The canonical form of what a person typed (case, spaces, dashes and look-alikes forgiven), or
// nullopt when it cannot be a recovery code.
std::optional<std::string> normalize_recovery_code(std::string_view typed);
// What is stored in place of a recovery code: SHA-256 hex of its canonical form. nullopt when the
// input cannot be a recovery code.
std::optional<std::string> hash_recovery_code(std::string_view typed);

}  // namespace vpsfleet::auth::totp
