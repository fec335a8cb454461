#include "coordinator/auth/totp.hpp"

#include "common/secrets.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace vpsfleet::auth::totp {
namespace {

constexpr char k_base32_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
// Crockford's alphabet: no i, l, o or u, so nothing is read as another character.
constexpr char k_recovery_alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";
constexpr std::size_t k_recovery_length = 12;  // 60 bits
constexpr std::size_t k_recovery_group = 4;

std::vector<unsigned char> random_bytes(std::size_t n) {
    std::vector<unsigned char> out(n);
    if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) {
        throw std::runtime_error("the system random generator failed");
    }
    return out;
}

int base32_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a';
    if (c >= '2' && c <= '7') return c - '2' + 26;
    return -1;
}

// Percent-encodes all but RFC 3986's unreserved characters; '@' stays readable in account names.
std::string uri_escape(std::string_view text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : text) {
        const bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                          (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~' ||
                          c == '@';
        if (keep) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 0xf];
        }
    }
    return out;
}

// "abcdefghjkmn" -> "abcd-efgh-jkmn"
std::string grouped(std::string_view symbols) {
    std::string out;
    for (std::size_t i = 0; i < symbols.size(); ++i) {
        if (i > 0 && i % k_recovery_group == 0) out += '-';
        out += symbols[i];
    }
    return out;
}

}  // namespace

secret generate_secret() { return random_bytes(k_secret_bytes); }

std::string base32_encode(std::span<const unsigned char> data, bool pad) {
    std::string out;
    out.reserve((data.size() + 4) / 5 * 8);
    std::uint32_t acc = 0;
    int bits = 0;
    for (unsigned char b : data) {
        acc = (acc << 8) | b;
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out += k_base32_alphabet[(acc >> bits) & 0x1f];
        }
    }
    if (bits > 0) out += k_base32_alphabet[(acc << (5 - bits)) & 0x1f];
    if (pad) {
        while (out.size() % 8 != 0) out += '=';
    }
    return out;
}

std::optional<std::vector<unsigned char>> base32_decode(std::string_view text) {
    std::string symbols;
    std::size_t padding = 0;
    for (char c : text) {
        if (c == ' ') continue;
        if (c == '=') {
            ++padding;
            continue;
        }
        if (padding > 0 || base32_value(c) < 0) return std::nullopt;  // data after padding
        symbols += c;
    }
    // 8 symbols carry 5 bytes; a final group of 1, 3 or 6 symbols encodes no whole byte.
    const std::size_t tail = symbols.size() % 8;
    if (tail == 1 || tail == 3 || tail == 6) return std::nullopt;
    if (padding > 0 && (tail == 0 || symbols.size() + padding != (symbols.size() / 8 + 1) * 8)) {
        return std::nullopt;
    }
    std::vector<unsigned char> out;
    out.reserve(symbols.size() * 5 / 8);
    std::uint32_t acc = 0;
    int bits = 0;
    for (char c : symbols) {
        acc = (acc << 5) | static_cast<std::uint32_t>(base32_value(c));
        bits += 5;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<unsigned char>((acc >> bits) & 0xff));
        }
    }
    // Leftover bits must be zero, so every byte string has exactly one encoding.
    if ((acc & ((1u << bits) - 1)) != 0) return std::nullopt;
    return out;
}

std::string otpauth_uri(std::string_view issuer, std::string_view account,
                        std::span<const unsigned char> key) {
    const std::string escaped_issuer = uri_escape(issuer);
    return "otpauth://totp/" + escaped_issuer + ":" + uri_escape(account) +
           "?secret=" + base32_encode(key, false) + "&issuer=" + escaped_issuer;
}

std::uint64_t step_at(std::chrono::system_clock::time_point t) {
    const auto since_epoch = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch());
    if (since_epoch.count() < 0) return 0;
    return static_cast<std::uint64_t>(since_epoch / k_step);
}

std::string code_at_step(std::span<const unsigned char> key, std::uint64_t step, int digits) {
    if (digits < 6 || digits > 8) throw std::invalid_argument("TOTP codes have 6 to 8 digits");
    unsigned char counter[8];
    for (int i = 7; i >= 0; --i) {
        counter[i] = static_cast<unsigned char>(step & 0xff);
        step >>= 8;
    }
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()), counter, sizeof counter, mac,
             &mac_len) == nullptr ||
        mac_len != 20) {
        throw std::runtime_error("HMAC-SHA1 failed");
    }
    // RFC 4226 section 5.3, dynamic truncation.
    const unsigned offset = mac[19] & 0x0f;
    const std::uint32_t binary = (static_cast<std::uint32_t>(mac[offset] & 0x7f) << 24) |
                                 (static_cast<std::uint32_t>(mac[offset + 1]) << 16) |
                                 (static_cast<std::uint32_t>(mac[offset + 2]) << 8) |
                                 static_cast<std::uint32_t>(mac[offset + 3]);
    std::uint32_t modulus = 1;
    for (int i = 0; i < digits; ++i) modulus *= 10;
    std::string code = std::to_string(binary % modulus);
    return std::string(static_cast<std::size_t>(digits) - code.size(), '0') + code;
}

std::optional<std::uint64_t> verify(std::span<const unsigned char> key, std::string_view code,
                                    std::chrono::system_clock::time_point now,
                                    std::optional<std::uint64_t> last_used_step, int window) {
    std::string typed;
    for (char c : code) {
        if (c == ' ') continue;
        if (c < '0' || c > '9') return std::nullopt;
        typed += c;
    }
    if (typed.size() != static_cast<std::size_t>(k_digits) || key.empty()) return std::nullopt;

    const std::uint64_t current = step_at(now);
    std::optional<std::uint64_t> matched;
    // Every candidate is computed and compared, so the time taken says nothing about the code.
    for (int offset = -window; offset <= window; ++offset) {
        if (offset < 0 && current < static_cast<std::uint64_t>(-offset)) continue;
        const std::uint64_t step =
            current + static_cast<std::uint64_t>(static_cast<std::int64_t>(offset));
        const std::string expected = code_at_step(key, step, k_digits);
        const bool equal = CRYPTO_memcmp(expected.data(), typed.data(), expected.size()) == 0;
        const bool fresh = !last_used_step || step > *last_used_step;
        if (equal && fresh) matched = step;
    }
    return matched;
}

std::vector<std::string> generate_recovery_codes(std::size_t count) {
    std::vector<std::string> codes;
    codes.reserve(count);
    while (codes.size() < count) {
        // 8 random bytes = 64 bits; each of the 12 characters takes 5 of them (32 symbols, so no
        // modulo bias).
        const auto raw = random_bytes(8);
        std::uint64_t acc = 0;
        for (unsigned char b : raw) acc = (acc << 8) | b;
        std::string symbols;
        for (std::size_t i = 0; i < k_recovery_length; ++i) {
            symbols += k_recovery_alphabet[(acc >> (5 * i)) & 0x1f];
        }
        std::string code = grouped(symbols);
        bool duplicate = false;
        for (const auto& c : codes) duplicate = duplicate || c == code;
        if (!duplicate) codes.push_back(std::move(code));
    }
    return codes;
}

std::optional<std::string> normalize_recovery_code(std::string_view typed) {
    std::string symbols;
    for (char c : typed) {
        if (c == ' ' || c == '-') continue;
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        if (c == 'i' || c == 'l') c = '1';
        if (c == 'o') c = '0';
        if (std::string_view(k_recovery_alphabet).find(c) == std::string_view::npos) {
            return std::nullopt;
        }
        symbols += c;
    }
    if (symbols.size() != k_recovery_length) return std::nullopt;
    return grouped(symbols);
}

std::optional<std::string> hash_recovery_code(std::string_view typed) {
    auto canonical = normalize_recovery_code(typed);
    if (!canonical) return std::nullopt;
    return secrets::sha256_hex(*canonical);
}

}  // namespace vpsfleet::auth::totp
