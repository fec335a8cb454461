#pragma once
// The fleet's certificate authority: loaded from the configured files, or created in the state
// directory on first start (ECDSA P-256, key file 0600). It signs agent certificates and the
// listener's own server certificate.
#include "common/pki.hpp"
#include "coordinator/config.hpp"

#include <string>

namespace vpsfleet::fleet {

struct fleet_ca {
    pki::ca authority;
    std::string fingerprint;  // SHA-256 of the CA certificate, what agents pin
};

fleet_ca load_or_create_ca(const coordinator::fleet_config& cfg);

// A fresh key and certificate for the fleet listener, valid for the configured server names.
struct server_identity {
    std::string certificate_pem;
    std::string private_key_pem;
};
server_identity issue_listener_identity(const fleet_ca& ca, const coordinator::fleet_config& cfg);

}  // namespace vpsfleet::fleet
