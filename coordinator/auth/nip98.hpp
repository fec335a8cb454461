#pragma once
// NIP-98 HTTP auth (https://github.com/nostr-protocol/nips/blob/master/98.md), the LNVPS admin
// API's scheme: "Authorization: Nostr <base64 of a signed Nostr event>". The event must be of
// kind 27235, created within `max_skew` of now, name this request's absolute URL (`u` tag) and
// method (`method` tag), carry the SHA-256 of a non-empty body (`payload` tag), have the id
// NIP-01 defines (SHA-256 of the serialized event) and a valid BIP-340 Schnorr signature by its
// pubkey (libsecp256k1). Replays are refused by the caller, which remembers event ids.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vpsfleet::auth {

struct nip98_request {
    std::string_view method;        // "GET", "POST"...
    std::vector<std::string> urls;  // the absolute URLs this request may be named by
    std::string_view body;
    std::int64_t now = 0;  // unix seconds
    std::int64_t max_skew = 60;
};

struct nip98_identity {
    std::string event_id;  // 64 hex
    std::string pubkey;    // 64 hex, x-only
    std::int64_t created_at = 0;
};

// `credential` is what follows "Nostr ". Throws auth_failure("invalid_nostr_auth", why).
nip98_identity verify_nip98(std::string_view credential, const nip98_request& request);

}  // namespace vpsfleet::auth
