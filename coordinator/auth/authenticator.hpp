#pragma once
// Turns an Authorization header into a principal: "Bearer sk_proj_..." is a project API key
// (looked up by its SHA-256), any other bearer token must be one of our access tokens whose
// session is still open and whose user is active. Throws auth_failure otherwise.
#include "coordinator/auth/access_tokens.hpp"
#include "coordinator/auth/principal.hpp"

#include <pqxx/pqxx>

#include <string_view>

namespace vpsfleet::auth {

principal authenticate(pqxx::connection& conn, const token_signer& signer,
                       std::string_view authorization);

}  // namespace vpsfleet::auth
