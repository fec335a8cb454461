#pragma once
// Signs Nostr events the way a NIP-98 client does (libsecp256k1, BIP-340), for tests of the
// coordinator's Nostr auth.
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace vpsfleet::testing {

class nostr_signer {
  public:
    explicit nostr_signer(unsigned char seed);  // secret key: 32 bytes of `seed`

    const std::string& pubkey() const { return pubkey_; }
    // Fills in pubkey, id (NIP-01: SHA-256 of the compact [0,pubkey,created_at,kind,tags,content])
    // and sig.
    nlohmann::json sign(nlohmann::json event) const;

    // A kind 27235 event naming `url` and `method`, with a payload tag when `body` is not empty.
    static nlohmann::json http_event(const std::string& url, const std::string& method,
                                     std::int64_t created_at, const std::string& body = {});
    static std::string base64(const nlohmann::json& event);

  private:
    struct context_deleter {
        void operator()(secp256k1_context* ctx) const { secp256k1_context_destroy(ctx); }
    };
    std::unique_ptr<secp256k1_context, context_deleter> ctx_;
    secp256k1_keypair keypair_{};
    std::string pubkey_;
};

}  // namespace vpsfleet::testing
