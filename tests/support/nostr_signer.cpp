#include "tests/support/nostr_signer.hpp"

#include "common/secrets.hpp"

#include <secp256k1_schnorrsig.h>
#include <sodium.h>

#include <array>
#include <stdexcept>

namespace vpsfleet::testing {

namespace {

std::string hex(const unsigned char* data, std::size_t n) {
    std::string out(2 * n + 1, '\0');
    sodium_bin2hex(out.data(), out.size(), data, n);
    out.pop_back();
    return out;
}

}  // namespace

nostr_signer::nostr_signer(unsigned char seed)
    : ctx_(secp256k1_context_create(SECP256K1_CONTEXT_NONE)) {
    std::array<unsigned char, 32> secret{};
    secret.fill(seed);
    secp256k1_xonly_pubkey xonly;
    std::array<unsigned char, 32> raw{};
    if (secp256k1_keypair_create(ctx_.get(), &keypair_, secret.data()) != 1 ||
        secp256k1_keypair_xonly_pub(ctx_.get(), &xonly, nullptr, &keypair_) != 1 ||
        secp256k1_xonly_pubkey_serialize(ctx_.get(), raw.data(), &xonly) != 1) {
        throw std::invalid_argument("not a valid secp256k1 secret key");
    }
    pubkey_ = hex(raw.data(), raw.size());
}

nlohmann::json nostr_signer::sign(nlohmann::json event) const {
    event["pubkey"] = pubkey_;
    const nlohmann::json canonical = {
        0, pubkey_, event["created_at"], event["kind"], event["tags"], event["content"]};
    const auto id = secrets::sha256_hex(canonical.dump());
    event["id"] = id;
    std::array<unsigned char, 32> digest{};
    sodium_hex2bin(digest.data(), digest.size(), id.data(), id.size(), nullptr, nullptr, nullptr);
    std::array<unsigned char, 64> sig{};
    if (secp256k1_schnorrsig_sign32(ctx_.get(), sig.data(), digest.data(), &keypair_, nullptr) !=
        1) {
        throw std::runtime_error("signing failed");
    }
    event["sig"] = hex(sig.data(), sig.size());
    return event;
}

nlohmann::json nostr_signer::http_event(const std::string& url, const std::string& method,
                                        std::int64_t created_at, const std::string& body) {
    // Built as arrays explicitly: a braced list of pairs would make a JSON object.
    auto tags = nlohmann::json::array(
        {nlohmann::json::array({"u", url}), nlohmann::json::array({"method", method})});
    if (!body.empty())
        tags.push_back(nlohmann::json::array({"payload", secrets::sha256_hex(body)}));
    return {{"kind", 27235}, {"created_at", created_at}, {"content", ""}, {"tags", tags}};
}

std::string nostr_signer::base64(const nlohmann::json& event) {
    const std::string text = event.dump();
    std::string out(sodium_base64_ENCODED_LEN(text.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(text.data()),
                      text.size(), sodium_base64_VARIANT_ORIGINAL);
    out.pop_back();
    return out;
}

}  // namespace vpsfleet::testing
