#pragma once
// Customer API: /account/sshkeys (list, add) and /account/sshkeys/{key} (delete), the SSH public
// keys a user keeps on their account. Keys are checked as OpenSSH public keys and carry the
// SHA256 fingerprint `ssh-keygen -l` prints; a user holds each key once.
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

namespace vpsfleet::api::customer {

void add_account_key_routes(endpoints& api, services& s);

}  // namespace vpsfleet::api::customer
