#pragma once
// Seals secrets the coordinator must read back (TOTP seeds cannot be hashed) with libsodium's
// XSalsa20-Poly1305 secretbox under a key shared through the database (auth_keys).
#include <optional>
#include <string>
#include <vector>

namespace vpsfleet::auth {

class secret_box {
  public:
    explicit secret_box(std::vector<unsigned char> key);

    // nonce || ciphertext, for a bytea column.
    std::string seal(const std::vector<unsigned char>& plain) const;
    // nullopt when the data was not sealed with this key or was altered.
    std::optional<std::vector<unsigned char>> open(const std::string& sealed) const;

  private:
    std::vector<unsigned char> key_;
};

}  // namespace vpsfleet::auth
