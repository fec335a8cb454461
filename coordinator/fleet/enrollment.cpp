#include "coordinator/fleet/enrollment.hpp"

#include "coordinator/fleet/join_tokens.hpp"

namespace vpsfleet::fleet {
namespace {

std::string iso_seconds(std::chrono::system_clock::time_point t) {
    return std::to_string(
        std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
}

}  // namespace

void record_certificate(pqxx::work& tx, std::int64_t host_id, const pki::issued_certificate& cert) {
    tx.exec_params(
        "INSERT INTO host_certificates (serial, host_id, not_before, not_after) "
        "VALUES ($1, $2, to_timestamp($3), to_timestamp($4))",
        cert.serial_hex, host_id, iso_seconds(cert.not_before), iso_seconds(cert.not_after));
}

std::variant<enrolled, enroll_refused> enroll(pqxx::connection& conn, const pki::ca& authority,
                                              const enroll_request& request,
                                              std::chrono::seconds certificate_lifetime) {
    if (request.host_name.empty() || request.host_name.size() > 253) {
        return enroll_refused{"invalid_request", "host_name must be 1 to 253 characters"};
    }
    if (request.kind != "libvirt" && request.kind != "proxmox") {
        return enroll_refused{"invalid_request", "kind must be libvirt or proxmox"};
    }
    pqxx::work tx(conn);
    token_claim claim;
    if (auto refusal = claim_join_token(tx, request.token, claim)) {
        static constexpr const char* codes[] = {"invalid_token", "token_used", "token_expired"};
        return enroll_refused{codes[static_cast<int>(*refusal)], to_string(*refusal)};
    }

    // Re-enrolling a host by name (agent reinstalled) keeps its row, unless its agent is connected.
    std::int64_t host_id = 0;
    const auto existing = tx.exec_params(
        "SELECT id, state = 'online' FROM hosts WHERE lower(name) = lower($1) FOR UPDATE",
        request.host_name);
    if (!existing.empty()) {
        if (existing[0][1].as<bool>()) {
            return enroll_refused{"host_online",
                                  "host '" + request.host_name + "' is online with another agent"};
        }
        host_id = existing[0][0].as<std::int64_t>();
        tx.exec_params(
            "UPDATE host_certificates SET revoked_at = now() WHERE host_id = $1 AND revoked_at IS "
            "NULL",
            host_id);
        tx.exec_params(
            "UPDATE hosts SET region_id = $2, kind = $3, updated_at = now() WHERE id = $1", host_id,
            claim.region_id, request.kind);
    } else {
        host_id =
            tx.exec_params(
                  "INSERT INTO hosts (name, region_id, kind) VALUES ($1, $2, $3) RETURNING id",
                  request.host_name, claim.region_id, request.kind)[0][0]
                .as<std::int64_t>();
    }

    pki::issued_certificate cert;
    try {
        cert = pki::sign_client_csr(authority, request.csr_pem, std::to_string(host_id),
                                    certificate_lifetime);
    } catch (const pki::pki_error& e) {
        return enroll_refused{"invalid_csr", e.what()};
    }
    record_certificate(tx, host_id, cert);
    mark_join_token_used(tx, claim.token_id, host_id);
    tx.commit();
    return enrolled{host_id, std::move(cert)};
}

}  // namespace vpsfleet::fleet
