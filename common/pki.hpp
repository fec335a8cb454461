#pragma once
// The fleet's X.509 primitives (OpenSSL 3): P-256 keys, the fleet CA, agent CSRs and the client and
// server certificates of the mutual-TLS fleet link, plus 0600 files for the keys.
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace vpsfleet::pki {

// Carries OpenSSL's error queue text; the queue is cleared before the throw.
// Every certificate is valid from this long before it was issued, for hosts whose clocks lag.
inline constexpr std::chrono::minutes k_clock_skew{5};

struct pki_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// PEM: PKCS#8 private key, SubjectPublicKeyInfo public key.
struct key_pair {
    std::string private_key_pem;
    std::string public_key_pem;
};
key_pair generate_p256_key();

struct ca {
    std::string certificate_pem;
    std::string private_key_pem;
};
// Self-signed P-256 CA with a random 128-bit serial; valid from five minutes ago (clock skew).
ca create_ca(const std::string& common_name, std::chrono::hours lifetime);

// Any key type is accepted here; the CA decides what it signs.
std::string create_csr(const std::string& private_key_pem, const std::string& common_name);

struct issued_certificate {
    std::string certificate_pem;
    std::string serial_hex;  // lower-case
    std::chrono::system_clock::time_point not_before, not_after;
};

// Agent certificate: subject CN = host_id (the CSR's own subject is ignored), SAN URI
// urn:vpsfleet:host:<host_id>, clientAuth. The CSR's self-signature must verify and its key must
// be P-256. host_id is 1-64 of [A-Za-z0-9._-]. not_after never outlives the CA.
issued_certificate sign_client_csr(const ca& authority, const std::string& csr_pem,
                                   const std::string& host_id, std::chrono::seconds lifetime);

// Certificate for the coordinator's fleet listener: IP literals become IP SANs, other names DNS
// SANs; serverAuth. `names` must not be empty.
issued_certificate issue_server_certificate(const ca& authority,
                                            const std::string& server_private_key_pem,
                                            const std::vector<std::string>& names,
                                            std::chrono::seconds lifetime);

// Lower-case hex SHA-256 over the DER, no colons: what agents pin.
std::string sha256_fingerprint(const std::string& certificate_pem);

struct certificate_info {
    std::string subject_cn;
    std::optional<std::string> host_id;  // from the single urn:vpsfleet:host: SAN URI
    std::string serial_hex;
    std::chrono::system_clock::time_point not_before, not_after;
};
certificate_info inspect(const std::string& certificate_pem);

// True when the certificate chains to the CA and both are within their validity at `now`.
// Unparseable PEM throws pki_error rather than returning false.
bool verify_signed_by(const std::string& certificate_pem, const std::string& ca_certificate_pem,
                      std::chrono::system_clock::time_point now);

// Replaces `path` atomically (temp file in the same directory, fsync, rename); the file is created
// with mode 0600, so a secret is never readable by others, not even briefly.
void write_private_file(const std::string& path, const std::string& content);
std::string read_file(const std::string& path);

}  // namespace vpsfleet::pki
