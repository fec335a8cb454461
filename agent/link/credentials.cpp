#include "agent/link/credentials.hpp"

#include "common/pki.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <stdexcept>

namespace vpsfleet::agent::link {

namespace fs = std::filesystem;

namespace {

void write_identity(const fs::path& dir, const std::string& key_pem, const std::string& cert_pem) {
    pki::write_private_file((dir / "agent.pem").string(), key_pem + cert_pem);
}

}  // namespace

std::optional<credentials> load_credentials(const std::string& state_dir) {
    const fs::path dir(state_dir);
    if (!fs::exists(dir / "enrollment.json")) return std::nullopt;
    const auto meta = nlohmann::json::parse(pki::read_file((dir / "enrollment.json").string()));
    credentials c;
    c.coordinator = meta.at("coordinator").get<std::string>();
    c.host_id = meta.at("host_id").get<std::string>();
    const std::string identity = pki::read_file((dir / "agent.pem").string());
    const auto cert_at = identity.find("-----BEGIN CERTIFICATE-----");
    if (cert_at == std::string::npos)
        throw std::runtime_error(state_dir + "/agent.pem holds no certificate");
    c.private_key_pem = identity.substr(0, cert_at);
    c.certificate_pem = identity.substr(cert_at);
    c.ca_pem = pki::read_file((dir / "ca.crt").string());
    return c;
}

void save_credentials(const std::string& state_dir, const credentials& c) {
    const fs::path dir(state_dir);
    fs::create_directories(dir);
    write_identity(dir, c.private_key_pem, c.certificate_pem);
    pki::write_private_file((dir / "ca.crt").string(), c.ca_pem);
    // Written last: its presence means the rest is complete.
    pki::write_private_file(
        (dir / "enrollment.json").string(),
        nlohmann::json{{"coordinator", c.coordinator}, {"host_id", c.host_id}}.dump(2));
}

void save_renewed(const std::string& state_dir, const std::string& private_key_pem,
                  const std::string& certificate_pem) {
    write_identity(fs::path(state_dir), private_key_pem, certificate_pem);
}

}  // namespace vpsfleet::agent::link
