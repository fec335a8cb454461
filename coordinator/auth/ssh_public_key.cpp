#include "coordinator/auth/ssh_public_key.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <vector>

namespace vpsfleet::auth {

namespace {

constexpr std::array k_key_types = {
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
};

bool is_space(char ch) { return ch == ' ' || ch == '\t'; }

// The key blob opens with its type as an SSH string (32-bit big-endian length, then the bytes),
// which must repeat the type written in front of the base64.
bool blob_names_type(const std::vector<unsigned char>& blob, const std::string& type) {
    if (blob.size() < 4) return false;
    const std::size_t len = (std::size_t{blob[0]} << 24) | (std::size_t{blob[1]} << 16) |
                            (std::size_t{blob[2]} << 8) | std::size_t{blob[3]};
    return len == type.size() && blob.size() >= 4 + len &&
           std::equal(type.begin(), type.end(), blob.begin() + 4);
}

// "SHA256:" + unpadded base64 of SHA-256 of the blob, as `ssh-keygen -l` prints it.
std::string openssh_fingerprint(const std::vector<unsigned char>& blob) {
    std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
    crypto_hash_sha256(digest.data(), blob.data(), blob.size());
    std::string b64(
        sodium_base64_ENCODED_LEN(digest.size(), sodium_base64_VARIANT_ORIGINAL_NO_PADDING), '\0');
    sodium_bin2base64(b64.data(), b64.size(), digest.data(), digest.size(),
                      sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    b64.resize(b64.find('\0'));
    return "SHA256:" + b64;
}

}  // namespace

std::optional<ssh_public_key> parse_ssh_public_key(const std::string& text) {
    // One line of printable text: a line break or control character could smuggle a second
    // key (with options) into an authorized_keys file.
    if (text.size() > 16384) return std::nullopt;
    for (const char ch : text) {
        if (static_cast<unsigned char>(ch) < 0x20 && ch != '\t') return std::nullopt;
        if (ch == 0x7f) return std::nullopt;
    }
    const auto first = text.find_first_not_of(" \t");
    if (first == std::string::npos) return std::nullopt;
    const std::string key = text.substr(first, text.find_last_not_of(" \t") - first + 1);

    const auto type_end = std::find_if(key.begin(), key.end(), is_space);
    const std::string type(key.begin(), type_end);
    if (std::find(k_key_types.begin(), k_key_types.end(), type) == k_key_types.end()) {
        return std::nullopt;
    }
    const auto body_begin = std::find_if_not(type_end, key.end(), is_space);
    if (body_begin == type_end || body_begin == key.end()) return std::nullopt;
    const std::string body(body_begin, std::find_if(body_begin, key.end(), is_space));

    std::vector<unsigned char> blob(body.size());
    std::size_t blob_len = 0;
    // Strict decoding: padded standard base64 and nothing after it.
    if (sodium_base642bin(blob.data(), blob.size(), body.data(), body.size(), nullptr, &blob_len,
                          nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
        return std::nullopt;
    }
    blob.resize(blob_len);
    if (!blob_names_type(blob, type)) return std::nullopt;
    return ssh_public_key{key, openssh_fingerprint(blob)};
}

}  // namespace vpsfleet::auth
