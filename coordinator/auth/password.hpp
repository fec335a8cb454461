#pragma once
// Password hashing: argon2id through libsodium, stored in its self-describing string format.
#include <cstddef>
#include <string>

namespace vpsfleet::auth {

// Idempotent and thread-safe; every libsodium user calls it first.
void init_sodium();

std::string hash_password(const std::string& password);
bool verify_password(const std::string& hash, const std::string& password);
// A random password for generated credentials, without look-alike characters.
std::string generate_password(std::size_t length = 24);

}  // namespace vpsfleet::auth
