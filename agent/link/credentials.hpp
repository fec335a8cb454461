#pragma once
// What enrollment leaves in the agent's state directory: agent.pem (its private key and
// certificate in one 0600 file, so a renewal replaces both in one atomic rename), ca.crt and
// enrollment.json (where to dial). The link reads them at every connection attempt, so a renewed
// certificate is used from the next connection on.
#include <optional>
#include <string>

namespace vpsfleet::agent::link {

struct credentials {
    std::string coordinator;  // wss://HOST:PORT/fleet/v1
    std::string host_id;
    std::string private_key_pem;
    std::string certificate_pem;
    std::string ca_pem;
};

// Empty when the agent has not enrolled yet; throws when the files exist but cannot be read.
std::optional<credentials> load_credentials(const std::string& state_dir);
void save_credentials(const std::string& state_dir, const credentials& c);
// Replaces key and certificate together after a renewal.
void save_renewed(const std::string& state_dir, const std::string& private_key_pem,
                  const std::string& certificate_pem);

}  // namespace vpsfleet::agent::link
