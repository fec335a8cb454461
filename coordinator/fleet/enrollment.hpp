#pragma once
// Turns a join token and an agent's CSR into a host row and a client certificate naming that host.
// Everything happens in one transaction: a refused enrollment leaves no trace but the refusal.
#include "common/pki.hpp"

#include <pqxx/pqxx>

#include <chrono>
#include <cstdint>
#include <string>
#include <variant>

namespace vpsfleet::fleet {

struct enroll_request {
    std::string token;
    std::string csr_pem;
    std::string host_name;
    std::string kind = "libvirt";
};

struct enrolled {
    std::int64_t host_id = 0;
    pki::issued_certificate certificate;
};

struct enroll_refused {
    std::string code;  // invalid_token, token_used, token_expired, invalid_csr, host_online
    std::string message;
};

std::variant<enrolled, enroll_refused> enroll(pqxx::connection& conn, const pki::ca& authority,
                                              const enroll_request& request,
                                              std::chrono::seconds certificate_lifetime);

// Records a certificate issued to a host (enrollment and renewal).
void record_certificate(pqxx::work& tx, std::int64_t host_id, const pki::issued_certificate& cert);

}  // namespace vpsfleet::fleet
