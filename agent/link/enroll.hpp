#pragma once
// `vpsfleet-agent enroll`: makes a P-256 key and CSR, trades a join token for a certificate at
// the coordinator's fleet port, checks the coordinator against the CA it returned (and against the
// pinned fingerprint, when given), and stores the result in the state directory.
#include <optional>
#include <string>

namespace vpsfleet::agent::link {

struct enroll_options {
    std::string coordinator;  // https://HOST:8443
    std::string token;
    std::optional<std::string> ca_fingerprint;  // SHA-256 hex of the fleet CA certificate
    std::string host_name;
    std::string state_dir;
};

struct enroll_result {
    std::string host_id;
    std::string ca_fingerprint;
};

// Throws std::runtime_error with a message for the operator.
enroll_result enroll(const enroll_options& options);

}  // namespace vpsfleet::agent::link
