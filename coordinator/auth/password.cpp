#include "coordinator/auth/password.hpp"

#include <sodium.h>

#include <stdexcept>

namespace vpsfleet::auth {

void init_sodium() {
    if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialise");
}

std::string hash_password(const std::string& password) {
    init_sodium();
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(
            out, password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
            crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0) {
        throw std::runtime_error("password hashing ran out of memory");
    }
    return out;
}

bool verify_password(const std::string& hash, const std::string& password) {
    init_sodium();
    return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

std::string generate_password(std::size_t length) {
    init_sodium();
    // No look-alike characters (0/O, 1/l/I): operators type this once from a terminal.
    static constexpr char alphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    std::string out;
    for (std::size_t i = 0; i < length; ++i) {
        out += alphabet[randombytes_uniform(sizeof(alphabet) - 1)];
    }
    return out;
}

}  // namespace vpsfleet::auth
