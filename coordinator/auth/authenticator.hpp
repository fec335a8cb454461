#pragma once
// Turns an Authorization header into a principal: "Bearer sk_proj_..." is a project API key
// (looked up by its SHA-256), any other bearer token must be one of our access tokens whose
// session is still open and whose user is active. Throws auth_failure otherwise.
#include <string>
#include "coordinator/auth/access_tokens.hpp"
#include "coordinator/auth/principal.hpp"

#include <pqxx/pqxx>

#include <string_view>

namespace vpsfleet::auth {

principal authenticate(pqxx::connection& conn, const token_signer& signer,
                       std::string_view authorization);

// The request a credential comes with, for schemes that sign the request itself.
struct request_facts {
    std::string_view method;
    std::string url;  // the absolute URL the client was told to use (api.public_url + target)
    std::string_view body;
};

// Also accepts "Nostr <event>" (NIP-98, see nip98.hpp) for the user whose pubkey signed it; each
// event is accepted once.
principal authenticate(pqxx::connection& conn, const token_signer& signer,
                       std::string_view authorization, const request_facts& request);

}  // namespace vpsfleet::auth
