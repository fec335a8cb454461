#include "coordinator/auth/key_ring.hpp"

namespace vpsfleet::auth {

void key_ring::load(pqxx::connection& conn) {
    std::lock_guard lock(mutex_);
    if (signer_) return;
    auto box = std::make_unique<secret_box>(load_or_create_key(conn, "mfa_seal"));
    signer_ = std::make_unique<token_signer>(load_or_create_key(conn, "access_token_hs256"));
    box_ = std::move(box);
}

const token_signer& key_ring::signer(pqxx::connection& conn) {
    load(conn);
    return *signer_;
}

const secret_box& key_ring::box(pqxx::connection& conn) {
    load(conn);
    return *box_;
}

}  // namespace vpsfleet::auth
