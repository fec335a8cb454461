#include "coordinator/auth/nip98.hpp"

#include "common/secrets.hpp"
#include "coordinator/auth/auth_failure.hpp"

#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <sodium.h>
#include <nlohmann/json.hpp>

#include <array>
#include <cstdlib>
#include <optional>

namespace vpsfleet::auth {

namespace {

constexpr int k_http_auth_kind = 27235;

[[noreturn]] void refuse(const std::string& why) {
    throw auth_failure("invalid_nostr_auth", "Nostr auth refused: " + why);
}

template <std::size_t N>
std::optional<std::array<unsigned char, N>> from_hex(const std::string& hex) {
    std::array<unsigned char, N> out{};
    std::size_t len = 0;
    if (hex.size() != 2 * N ||
        sodium_hex2bin(out.data(), N, hex.data(), hex.size(), nullptr, &len, nullptr) != 0 ||
        len != N) {
        return std::nullopt;
    }
    return out;
}

std::string lowercase_hex_field(const nlohmann::json& event, const char* name, std::size_t bytes) {
    const auto it = event.find(name);
    if (it == event.end() || !it->is_string()) refuse(std::string(name) + " is missing");
    const auto value = it->get<std::string>();
    const bool hex = value.size() == 2 * bytes &&
                     value.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (!hex) refuse(std::string(name) + " must be " + std::to_string(2 * bytes) + " hex digits");
    return value;
}

// The first value of each tag the request must be bound to.
std::optional<std::string> tag_value(const nlohmann::json& tags, std::string_view name) {
    for (const auto& tag : tags) {
        if (tag.size() >= 2 && tag[0] == name) return tag[1].get<std::string>();
    }
    return std::nullopt;
}

nlohmann::json decode(std::string_view credential) {
    std::string raw(credential.size(), '\0');
    std::size_t len = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(raw.data()), raw.size(),
                          credential.data(), credential.size(), nullptr, &len, nullptr,
                          sodium_base64_VARIANT_ORIGINAL) != 0) {
        refuse("the event is not base64");
    }
    raw.resize(len);
    auto event = nlohmann::json::parse(raw, nullptr, false);
    if (!event.is_object()) refuse("the event is not a JSON object");
    return event;
}

bool signature_valid(const std::string& id_hex, const std::string& pubkey_hex,
                     const std::string& sig_hex) {
    const auto id = from_hex<32>(id_hex);
    const auto pubkey = from_hex<32>(pubkey_hex);
    const auto sig = from_hex<64>(sig_hex);
    if (!id || !pubkey || !sig) return false;
    secp256k1_xonly_pubkey key;
    if (!secp256k1_xonly_pubkey_parse(secp256k1_context_static, &key, pubkey->data())) {
        return false;
    }
    return secp256k1_schnorrsig_verify(secp256k1_context_static, sig->data(), id->data(),
                                       id->size(), &key) == 1;
}

}  // namespace

nip98_identity verify_nip98(std::string_view credential, const nip98_request& request) {
    const auto event = decode(credential);
    const auto id = lowercase_hex_field(event, "id", 32);
    const auto pubkey = lowercase_hex_field(event, "pubkey", 32);
    const auto sig = lowercase_hex_field(event, "sig", 64);
    const auto kind = event.find("kind");
    const auto created = event.find("created_at");
    const auto tags = event.find("tags");
    const auto content = event.find("content");
    if (kind == event.end() || !kind->is_number_integer() || *kind != k_http_auth_kind) {
        refuse("kind must be 27235");
    }
    if (created == event.end() || !created->is_number_integer()) refuse("created_at is missing");
    if (content == event.end() || !content->is_string()) refuse("content must be a string");
    bool tags_ok = tags != event.end() && tags->is_array();
    for (const auto& tag : tags_ok ? *tags : nlohmann::json::array()) {
        tags_ok = tags_ok && tag.is_array() && !tag.empty();
        for (const auto& part : tag) tags_ok = tags_ok && part.is_string();
    }
    if (!tags_ok) refuse("tags must be an array of string arrays");

    // NIP-01: the id is the SHA-256 of [0, pubkey, created_at, kind, tags, content], compact.
    const nlohmann::json canonical = {0, pubkey, *created, *kind, *tags, *content};
    if (secrets::sha256_hex(canonical.dump()) != id) refuse("the id does not match the event");
    if (!signature_valid(id, pubkey, sig)) refuse("the signature is invalid");

    const auto at = created->get<std::int64_t>();
    if (std::llabs(request.now - at) > request.max_skew) refuse("the event is too old or too new");
    const auto url = tag_value(*tags, "u");
    bool url_ok = false;
    for (const auto& u : request.urls) url_ok = url_ok || (url && *url == u);
    if (!url_ok) refuse("the u tag does not name this URL");
    if (tag_value(*tags, "method") != std::string(request.method)) {
        refuse("the method tag does not name this method");
    }
    if (!request.body.empty() && tag_value(*tags, "payload") != secrets::sha256_hex(request.body)) {
        refuse("the payload tag does not match the body");
    }
    return {id, pubkey, at};
}

}  // namespace vpsfleet::auth
