// Issuing side of the fleet PKI: keys, the CA, CSRs and the certificates the CA signs.
#include "common/pki.hpp"
#include "common/pki_openssl.hpp"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include <algorithm>
#include <cctype>

namespace vpsfleet::pki {

using namespace openssl;

namespace {

// Certificates are dated this far back so a host whose clock runs a little behind accepts them.
constexpr std::size_t k_max_common_name = 64;  // ub-common-name, RFC 5280

[[noreturn]] void refuse(const std::string& message) {
    ERR_clear_error();
    throw pki_error(message);
}

void check_common_name(const std::string& name) {
    if (name.empty() || name.size() > k_max_common_name) {
        refuse("common name must be 1 to 64 bytes, got " + std::to_string(name.size()));
    }
}

// The host id ends up in a URI and a CN; a narrow alphabet keeps both unambiguous.
void check_host_id(const std::string& host_id) {
    const bool ok = !host_id.empty() && host_id.size() <= k_max_common_name &&
                    std::all_of(host_id.begin(), host_id.end(), [](unsigned char c) {
                        return std::isalnum(c) || c == '.' || c == '_' || c == '-';
                    });
    if (!ok) refuse("host id must be 1 to 64 of [A-Za-z0-9._-], got '" + host_id + "'");
}

bool is_p256(EVP_PKEY* key) {
    if (EVP_PKEY_is_a(key, "EC") != 1) return false;
    char group[64];
    std::size_t size = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof group, &size) != 1) return false;
    return OBJ_txt2nid(group) == NID_X9_62_prime256v1 ||
           EC_curve_nist2nid(group) == NID_X9_62_prime256v1;
}

void set_common_name(X509_NAME* name, const std::string& common_name) {
    if (X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(common_name.data()),
                                   static_cast<int>(common_name.size()), -1, 0) != 1) {
        fail("cannot set the common name");
    }
}

void set_random_serial(X509* cert) {
    bignum_ptr serial(BN_new());
    if (!serial || BN_rand(serial.get(), 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1) {
        fail("cannot draw a serial number");
    }
    // A zero serial is invalid; 2^-128 odds, but cheap to rule out.
    if (BN_is_zero(serial.get()) && BN_one(serial.get()) != 1) fail("cannot draw a serial number");
    if (!BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert))) {
        fail("cannot set the serial number");
    }
}

void set_validity(X509* cert, std::chrono::system_clock::time_point not_before,
                  std::chrono::system_clock::time_point not_after) {
    using std::chrono::system_clock;
    if (!ASN1_TIME_set(X509_getm_notBefore(cert), system_clock::to_time_t(not_before)) ||
        !ASN1_TIME_set(X509_getm_notAfter(cert), system_clock::to_time_t(not_after))) {
        fail("cannot set the validity period");
    }
}

// Extensions that need no input from us beyond a config string; SANs are built separately so no
// caller-supplied text is ever parsed as extension config.
void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    x509_extension_ptr ext(X509V3_EXT_nconf_nid(nullptr, &ctx, nid, value));
    if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
        fail(std::string("cannot add the ") + OBJ_nid2sn(nid) + " extension");
    }
}

void add_name(GENERAL_NAMES* names, int type, asn1_string_ptr value) {
    general_name_ptr name(GENERAL_NAME_new());
    if (!name) fail("cannot allocate a subject alternative name");
    GENERAL_NAME_set0_value(name.get(), type, value.release());
    if (sk_GENERAL_NAME_push(names, name.get()) == 0) fail("cannot add a subject alternative name");
    name.release();
}

asn1_string_ptr ia5_string(const std::string& text) {
    asn1_string_ptr s(ASN1_IA5STRING_new());
    if (!s || ASN1_STRING_set(s.get(), text.data(), static_cast<int>(text.size())) != 1) {
        fail("cannot encode a subject alternative name");
    }
    return s;
}

void add_subject_alt_names(X509* cert, GENERAL_NAMES* names) {
    if (X509_add1_ext_i2d(cert, NID_subject_alt_name, names, 0, X509V3_ADD_DEFAULT) != 1) {
        fail("cannot add the subjectAltName extension");
    }
}

// A loaded CA whose key matches its certificate.
struct loaded_ca {
    x509_ptr certificate;
    pkey_ptr key;
};

loaded_ca load_ca(const ca& authority) {
    loaded_ca out{load_certificate(authority.certificate_pem),
                  load_private_key(authority.private_key_pem)};
    if (X509_check_private_key(out.certificate.get(), out.key.get()) != 1) {
        fail("the CA private key does not match the CA certificate");
    }
    return out;
}

// The common part of every certificate the CA issues: an end-entity certificate for `subject_key`.
x509_ptr start_leaf(const loaded_ca& issuer, EVP_PKEY* subject_key, const std::string& common_name,
                    std::chrono::seconds lifetime) {
    if (lifetime <= std::chrono::seconds::zero()) refuse("certificate lifetime must be positive");
    x509_ptr cert(X509_new());
    if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1)
        fail("cannot allocate a certificate");
    set_random_serial(cert.get());
    set_common_name(X509_get_subject_name(cert.get()), common_name);
    if (X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer.certificate.get())) != 1 ||
        X509_set_pubkey(cert.get(), subject_key) != 1) {
        fail("cannot fill in the certificate");
    }
    // Past the CA's own expiry the certificate could not verify anyway; say so in not_after.
    const auto now = std::chrono::system_clock::now();
    const auto ca_not_after = to_time_point(X509_get0_notAfter(issuer.certificate.get()));
    set_validity(cert.get(), now - k_clock_skew,
                 std::min<std::chrono::system_clock::time_point>(now + lifetime, ca_not_after));
    add_extension(cert.get(), issuer.certificate.get(), NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), issuer.certificate.get(), NID_key_usage, "critical,digitalSignature");
    add_extension(cert.get(), issuer.certificate.get(), NID_subject_key_identifier, "hash");
    add_extension(cert.get(), issuer.certificate.get(), NID_authority_key_identifier,
                  "keyid:always");
    return cert;
}

issued_certificate finish_leaf(X509* cert, const loaded_ca& issuer) {
    if (X509_sign(cert, issuer.key.get(), EVP_sha256()) <= 0) fail("cannot sign the certificate");
    return issued_certificate{certificate_to_pem(cert), serial_hex(cert),
                              to_time_point(X509_get0_notBefore(cert)),
                              to_time_point(X509_get0_notAfter(cert))};
}

pkey_ptr generate_p256() {
    pkey_ctx_ptr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    if (!ctx || EVP_PKEY_keygen_init(ctx.get()) != 1 ||
        EVP_PKEY_CTX_set_group_name(ctx.get(), "P-256") != 1) {
        fail("cannot set up P-256 key generation");
    }
    EVP_PKEY* raw = nullptr;
    if (EVP_PKEY_generate(ctx.get(), &raw) != 1) fail("cannot generate a P-256 key");
    return pkey_ptr(raw);
}

}  // namespace

key_pair generate_p256_key() {
    const auto key = generate_p256();
    return key_pair{private_key_to_pem(key.get()), public_key_to_pem(key.get())};
}

ca create_ca(const std::string& common_name, std::chrono::hours lifetime) {
    check_common_name(common_name);
    if (lifetime <= std::chrono::hours::zero()) refuse("CA lifetime must be positive");
    const auto key = generate_p256();
    x509_ptr cert(X509_new());
    if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1)
        fail("cannot allocate a certificate");
    set_random_serial(cert.get());
    X509_NAME* name = X509_get_subject_name(cert.get());
    set_common_name(name, common_name);
    if (X509_set_issuer_name(cert.get(), name) != 1 ||
        X509_set_pubkey(cert.get(), key.get()) != 1) {
        fail("cannot fill in the CA certificate");
    }
    const auto now = std::chrono::system_clock::now();
    set_validity(cert.get(), now - k_clock_skew, now + lifetime);
    add_extension(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
    add_extension(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
    if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) fail("cannot sign the CA certificate");
    return ca{certificate_to_pem(cert.get()), private_key_to_pem(key.get())};
}

std::string create_csr(const std::string& private_key_pem, const std::string& common_name) {
    check_common_name(common_name);
    const auto key = load_private_key(private_key_pem);
    x509_req_ptr req(X509_REQ_new());
    if (!req || X509_REQ_set_version(req.get(), X509_REQ_VERSION_1) != 1) {
        fail("cannot allocate a CSR");
    }
    X509_NAME* name = X509_REQ_get_subject_name(req.get());
    set_common_name(name, common_name);
    if (X509_REQ_set_pubkey(req.get(), key.get()) != 1) fail("cannot set the CSR key");
    if (X509_REQ_sign(req.get(), key.get(), EVP_sha256()) <= 0) fail("cannot sign the CSR");
    return csr_to_pem(req.get());
}

issued_certificate sign_client_csr(const ca& authority, const std::string& csr_pem,
                                   const std::string& host_id, std::chrono::seconds lifetime) {
    check_host_id(host_id);
    const auto req = load_csr(csr_pem);
    EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
    if (!key) fail("the CSR carries no usable public key");
    // Proof of possession: whoever sent the CSR holds the private key.
    if (X509_REQ_verify(req.get(), key) != 1) fail("the CSR signature does not verify");
    if (!is_p256(key)) refuse("the CSR key must be ECDSA P-256");

    const auto issuer = load_ca(authority);
    auto cert = start_leaf(issuer, key, host_id, lifetime);
    add_extension(cert.get(), issuer.certificate.get(), NID_ext_key_usage, "clientAuth");
    general_names_ptr names(sk_GENERAL_NAME_new_null());
    if (!names) fail("cannot allocate subject alternative names");
    add_name(names.get(), GEN_URI, ia5_string("urn:vpsfleet:host:" + host_id));
    add_subject_alt_names(cert.get(), names.get());
    return finish_leaf(cert.get(), issuer);
}

issued_certificate issue_server_certificate(const ca& authority,
                                            const std::string& server_private_key_pem,
                                            const std::vector<std::string>& names,
                                            std::chrono::seconds lifetime) {
    if (names.empty()) refuse("a server certificate needs at least one name");
    general_names_ptr alt_names(sk_GENERAL_NAME_new_null());
    if (!alt_names) fail("cannot allocate subject alternative names");
    for (const auto& name : names) {
        asn1_string_ptr ip(a2i_IPADDRESS(name.c_str()));
        if (ip) {
            add_name(alt_names.get(), GEN_IPADD, std::move(ip));
            continue;
        }
        ERR_clear_error();  // a name that is not an address may leave a parse error queued
        const bool dns_ok = !name.empty() && name.size() <= 253 &&
                            std::all_of(name.begin(), name.end(), [](unsigned char c) {
                                return std::isalnum(c) || c == '.' || c == '-' || c == '*';
                            });
        if (!dns_ok) refuse("'" + name + "' is neither an IP address nor a DNS name");
        add_name(alt_names.get(), GEN_DNS, ia5_string(name));
    }

    const auto key = load_private_key(server_private_key_pem);
    const auto issuer = load_ca(authority);
    // Clients check the SANs; the CN is only for people reading the certificate.
    const std::string common_name =
        names.front().size() <= k_max_common_name ? names.front() : "vpsfleet coordinator";
    auto cert = start_leaf(issuer, key.get(), common_name, lifetime);
    add_extension(cert.get(), issuer.certificate.get(), NID_ext_key_usage, "serverAuth");
    add_subject_alt_names(cert.get(), alt_names.get());
    return finish_leaf(cert.get(), issuer);
}

}  // namespace vpsfleet::pki
