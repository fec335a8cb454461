#pragma once
// Secrets handed to people or machines (tokens, API keys) and the digests stored in their place.
#include <string>
#include <string_view>

namespace vpsfleet::secrets {

// prefix + base64url of `bytes` random bytes from OpenSSL's CSPRNG, e.g. "vfj_Q2x...".
std::string random_token(std::string_view prefix, std::size_t bytes = 32);
// Lower-case hex SHA-256, the form tokens are stored in.
std::string sha256_hex(std::string_view data);

}  // namespace vpsfleet::secrets
