#include "coordinator/fleet/fleet_ca.hpp"

#include "common/log.hpp"

#include <filesystem>

namespace vpsfleet::fleet {

namespace fs = std::filesystem;

fleet_ca load_or_create_ca(const coordinator::fleet_config& cfg) {
    const std::string cert_path = cfg.ca_cert.value_or(cfg.state_dir + "/fleet-ca.crt");
    const std::string key_path = cfg.ca_key.value_or(cfg.state_dir + "/fleet-ca.key");
    fleet_ca out;
    if (fs::exists(cert_path) || fs::exists(key_path) || cfg.ca_cert) {
        out.authority.certificate_pem = pki::read_file(cert_path);
        out.authority.private_key_pem = pki::read_file(key_path);
    } else {
        fs::create_directories(cfg.state_dir);
        out.authority = pki::create_ca("vpsfleet fleet CA", std::chrono::hours(24 * 365 * 10));
        pki::write_private_file(key_path, out.authority.private_key_pem);
        pki::write_private_file(cert_path, out.authority.certificate_pem);
        log::info("fleet CA created", {{"certificate", cert_path}, {"key", key_path}});
    }
    out.fingerprint = pki::sha256_fingerprint(out.authority.certificate_pem);
    return out;
}

server_identity issue_listener_identity(const fleet_ca& ca, const coordinator::fleet_config& cfg) {
    server_identity id;
    id.private_key_pem = pki::generate_p256_key().private_key_pem;
    // Re-issued at every start, so its lifetime only has to outlast one run of the coordinator.
    id.certificate_pem =
        pki::issue_server_certificate(ca.authority, id.private_key_pem, cfg.server_names,
                                      std::chrono::hours(24 * 90))
            .certificate_pem;
    return id;
}

}  // namespace vpsfleet::fleet
