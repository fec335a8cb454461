#include "coordinator/auth/secret_box.hpp"

#include "coordinator/auth/password.hpp"

#include <sodium.h>

#include <stdexcept>

namespace vpsfleet::auth {

secret_box::secret_box(std::vector<unsigned char> key) : key_(std::move(key)) {
    init_sodium();
    if (key_.size() != crypto_secretbox_KEYBYTES) {
        throw std::invalid_argument("secret_box needs a 32-byte key");
    }
}

std::string secret_box::seal(const std::vector<unsigned char>& plain) const {
    std::string out(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plain.size(), '\0');
    auto* bytes = reinterpret_cast<unsigned char*>(out.data());
    randombytes_buf(bytes, crypto_secretbox_NONCEBYTES);
    crypto_secretbox_easy(bytes + crypto_secretbox_NONCEBYTES, plain.data(), plain.size(), bytes,
                          key_.data());
    return out;
}

std::optional<std::vector<unsigned char>> secret_box::open(const std::string& sealed) const {
    if (sealed.size() < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
        return std::nullopt;
    const auto* bytes = reinterpret_cast<const unsigned char*>(sealed.data());
    std::vector<unsigned char> plain(sealed.size() - crypto_secretbox_NONCEBYTES -
                                     crypto_secretbox_MACBYTES);
    if (crypto_secretbox_open_easy(plain.data(), bytes + crypto_secretbox_NONCEBYTES,
                                   sealed.size() - crypto_secretbox_NONCEBYTES, bytes,
                                   key_.data()) != 0) {
        return std::nullopt;
    }
    return plain;
}

}  // namespace vpsfleet::auth
