#include "common/pki.hpp"
#include "common/pki_openssl.hpp"
#include "tests/support/temp_file.hpp"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <cstdio>
#include <filesystem>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace vpsfleet::pki;
using namespace vpsfleet::pki::openssl;
using namespace std::chrono_literals;
using std::chrono::system_clock;

using vpsfleet::testing::temp_dir;

namespace {

using ssl_ctx_ptr = std::unique_ptr<SSL_CTX, deleter<SSL_CTX_free>>;
using ssl_ptr = std::unique_ptr<SSL, deleter<SSL_free>>;

// One CA for the whole file: each key generation is cheap, but the tests read better without noise.
const ca& fleet_ca() {
    static const ca authority = create_ca("test fleet CA", 24h);
    return authority;
}

issued_certificate client_certificate(const ca& authority, const std::string& host_id,
                                      std::chrono::seconds lifetime = 1h) {
    const auto key = generate_p256_key();
    return sign_client_csr(authority, create_csr(key.private_key_pem, "agent"), host_id, lifetime);
}

std::string pem_of_generated_key(const char* algorithm, const char* group = nullptr) {
    pkey_ctx_ptr ctx(EVP_PKEY_CTX_new_from_name(nullptr, algorithm, nullptr));
    EXPECT_TRUE(ctx && EVP_PKEY_keygen_init(ctx.get()) == 1);
    if (group) {
        EXPECT_EQ(EVP_PKEY_CTX_set_group_name(ctx.get(), group), 1);
    }
    EVP_PKEY* raw = nullptr;
    EXPECT_EQ(EVP_PKEY_generate(ctx.get(), &raw), 1);
    pkey_ptr key(raw);
    return private_key_to_pem(key.get());
}

bool has_critical_extension(X509* cert, int nid) {
    const int index = X509_get_ext_by_NID(cert, nid, -1);
    return index >= 0 && X509_EXTENSION_get_critical(X509_get_ext(cert, index)) == 1;
}

std::string file_mode(const std::string& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return "missing";
    char buf[8];
    std::snprintf(buf, sizeof buf, "%04o", st.st_mode & 07777);
    return buf;
}

// A TLS 1.3 endpoint holding one certificate and trusting only `trusted`.
ssl_ctx_ptr tls_context(bool server, const std::string& certificate_pem,
                        const std::string& private_key_pem, const std::string& trusted_ca_pem) {
    ssl_ctx_ptr ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
    EXPECT_TRUE(ctx);
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION);
    auto cert = load_certificate(certificate_pem);
    auto key = load_private_key(private_key_pem);
    auto ca_cert = load_certificate(trusted_ca_pem);
    EXPECT_EQ(SSL_CTX_use_certificate(ctx.get(), cert.get()), 1);
    EXPECT_EQ(SSL_CTX_use_PrivateKey(ctx.get(), key.get()), 1);
    EXPECT_EQ(X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), ca_cert.get()), 1);
    SSL_CTX_set_verify(ctx.get(),
                       server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER,
                       nullptr);
    return ctx;
}

struct handshake_outcome {
    bool server_accepted = false;
    bool client_got_data = false;
    std::string server_saw_certificate_pem;
    int client_verify_result = -1;
    int version = 0;
};

// Runs both ends over a socketpair; the client connects to "127.0.0.1" and checks the IP SAN.
handshake_outcome run_handshake(SSL_CTX* server_ctx, SSL_CTX* client_ctx) {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    // A broken handshake fails the test instead of hanging it.
    const timeval timeout{10, 0};
    for (int fd : fds) {
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    }
    handshake_outcome outcome;

    std::thread server([&] {
        ssl_ptr ssl(SSL_new(server_ctx));
        SSL_set_fd(ssl.get(), fds[0]);
        if (SSL_accept(ssl.get()) == 1) {
            outcome.server_accepted = true;
            if (X509* peer = SSL_get0_peer_certificate(ssl.get())) {
                outcome.server_saw_certificate_pem = certificate_to_pem(peer);
            }
            SSL_write(ssl.get(), "ok", 2);
            SSL_shutdown(ssl.get());
        }
        ssl.reset();
        ::close(fds[0]);  // the client's read ends here when the handshake was refused
        ERR_clear_error();
    });

    {
        ssl_ptr ssl(SSL_new(client_ctx));
        SSL_set_fd(ssl.get(), fds[1]);
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), "127.0.0.1");
        // In TLS 1.3 the server judges the client certificate after the client's handshake is
        // done, so only a read shows whether the server accepted it.
        if (SSL_connect(ssl.get()) == 1) {
            outcome.version = SSL_version(ssl.get());
            char buf[2];
            outcome.client_got_data = SSL_read(ssl.get(), buf, sizeof buf) == 2;
        }
        outcome.client_verify_result = static_cast<int>(SSL_get_verify_result(ssl.get()));
    }
    server.join();
    ::close(fds[1]);
    ERR_clear_error();
    return outcome;
}

}  // namespace

TEST(pki, generates_distinct_p256_keys) {
    const auto a = generate_p256_key();
    const auto b = generate_p256_key();
    EXPECT_NE(a.private_key_pem, b.private_key_pem);
    EXPECT_NE(a.public_key_pem, b.public_key_pem);
    EXPECT_TRUE(a.private_key_pem.starts_with("-----BEGIN PRIVATE KEY-----")) << a.private_key_pem;
    EXPECT_TRUE(a.public_key_pem.starts_with("-----BEGIN PUBLIC KEY-----")) << a.public_key_pem;

    const auto key = load_private_key(a.private_key_pem);
    EXPECT_TRUE(EVP_PKEY_is_a(key.get(), "EC"));
    char group[64];
    std::size_t size = 0;
    ASSERT_EQ(EVP_PKEY_get_group_name(key.get(), group, sizeof group, &size), 1);
    EXPECT_EQ(std::string(group), "prime256v1");
    EXPECT_EQ(public_key_to_pem(key.get()), a.public_key_pem);
}

TEST(pki, ca_is_self_signed_with_critical_ca_true_and_cert_signing_usage) {
    const auto before = system_clock::now();
    const auto& authority = fleet_ca();
    const auto cert = load_certificate(authority.certificate_pem);

    EXPECT_EQ(X509_check_ca(cert.get()), 1);
    EXPECT_TRUE(has_critical_extension(cert.get(), NID_basic_constraints));
    EXPECT_TRUE(has_critical_extension(cert.get(), NID_key_usage));
    EXPECT_EQ(X509_get_key_usage(cert.get()),
              static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
    EXPECT_NE(X509_get0_subject_key_id(cert.get()), nullptr);
    EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(cert.get()), X509_get_issuer_name(cert.get())),
              0);
    EXPECT_TRUE(verify_signed_by(authority.certificate_pem, authority.certificate_pem, before));

    const auto info = inspect(authority.certificate_pem);
    EXPECT_EQ(info.subject_cn, "test fleet CA");
    EXPECT_FALSE(info.host_id);
    // Dated back for clock skew.
    EXPECT_LE(info.not_before, before - 4min);
    EXPECT_GE(info.not_before, before - 6min);
    EXPECT_GE(info.not_after, before + 23h);
    // 128 random bits: at most 16 bytes, and almost never under 12.
    EXPECT_LE(info.serial_hex.size(), 32u);
    EXPECT_GE(info.serial_hex.size(), 24u);
}

TEST(pki, client_certificate_names_the_host_in_cn_and_san_not_the_csr_subject) {
    const auto key = generate_p256_key();
    const auto csr = create_csr(key.private_key_pem, "i-am-the-coordinator");
    const auto issued = sign_client_csr(fleet_ca(), csr, "42", 1h);

    const auto info = inspect(issued.certificate_pem);
    EXPECT_EQ(info.subject_cn, "42");
    ASSERT_TRUE(info.host_id);
    EXPECT_EQ(*info.host_id, "42");
    EXPECT_EQ(info.serial_hex, issued.serial_hex);
    EXPECT_EQ(info.not_before, issued.not_before);
    EXPECT_EQ(info.not_after, issued.not_after);
    EXPECT_EQ(issued.not_after - issued.not_before, 1h + 5min);

    const auto cert = load_certificate(issued.certificate_pem);
    EXPECT_EQ(X509_check_ca(cert.get()), 0);
    EXPECT_TRUE(has_critical_extension(cert.get(), NID_key_usage));
    EXPECT_EQ(X509_get_key_usage(cert.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE));
    EXPECT_EQ(X509_get_extended_key_usage(cert.get()), static_cast<uint32_t>(XKU_SSL_CLIENT));
    EXPECT_NE(X509_get0_authority_key_id(cert.get()), nullptr);
    // The certificate carries the agent's own key.
    EXPECT_EQ(public_key_to_pem(X509_get0_pubkey(cert.get())), key.public_key_pem);
}

TEST(pki, client_certificate_verifies_against_its_ca_only) {
    const auto issued = client_certificate(fleet_ca(), "host-7");
    const auto other = create_ca("another CA", 24h);
    EXPECT_TRUE(
        verify_signed_by(issued.certificate_pem, fleet_ca().certificate_pem, system_clock::now()));
    EXPECT_FALSE(
        verify_signed_by(issued.certificate_pem, other.certificate_pem, system_clock::now()));
    EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(pki, client_certificate_fails_verification_outside_its_validity) {
    const auto issued = client_certificate(fleet_ca(), "host-7", 10min);
    const auto& ca_pem = fleet_ca().certificate_pem;
    EXPECT_TRUE(verify_signed_by(issued.certificate_pem, ca_pem, issued.not_after - 1s));
    EXPECT_FALSE(verify_signed_by(issued.certificate_pem, ca_pem, issued.not_after + 1s));
    EXPECT_FALSE(verify_signed_by(issued.certificate_pem, ca_pem, issued.not_before - 1s));
}

TEST(pki, client_certificate_never_outlives_its_ca) {
    const auto short_ca = create_ca("short-lived CA", 1h);
    const auto issued = client_certificate(short_ca, "host-7", 24h * 30);
    EXPECT_EQ(issued.not_after, inspect(short_ca.certificate_pem).not_after);
}

TEST(pki, serials_are_random_per_certificate) {
    EXPECT_NE(client_certificate(fleet_ca(), "1").serial_hex,
              client_certificate(fleet_ca(), "1").serial_hex);
}

TEST(pki, refuses_csr_with_tampered_signature) {
    const auto key = generate_p256_key();
    const auto req = load_csr(create_csr(key.private_key_pem, "agent-aaaa"));
    unsigned char* der = nullptr;
    const int size = i2d_X509_REQ(req.get(), &der);
    ASSERT_GT(size, 0);
    std::string bytes(reinterpret_cast<char*>(der), static_cast<std::size_t>(size));
    OPENSSL_free(der);
    // Change the signed subject after signing; the signature no longer covers what is there.
    const auto at = bytes.find("agent-aaaa");
    ASSERT_NE(at, std::string::npos);
    bytes[at + 9] = 'b';
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    x509_req_ptr tampered(d2i_X509_REQ(nullptr, &p, static_cast<long>(bytes.size())));
    ASSERT_TRUE(tampered);

    try {
        sign_client_csr(fleet_ca(), csr_to_pem(tampered.get()), "host-1", 1h);
        FAIL() << "a tampered CSR was signed";
    } catch (const pki_error& e) {
        EXPECT_NE(std::string(e.what()).find("CSR signature does not verify"), std::string::npos)
            << e.what();
    }
    EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(pki, refuses_csr_with_rsa_key) {
    const auto csr = create_csr(pem_of_generated_key("RSA"), "agent");
    try {
        sign_client_csr(fleet_ca(), csr, "host-1", 1h);
        FAIL() << "an RSA CSR was signed";
    } catch (const pki_error& e) {
        EXPECT_NE(std::string(e.what()).find("P-256"), std::string::npos) << e.what();
    }
}

TEST(pki, refuses_csr_with_another_curve) {
    const auto csr = create_csr(pem_of_generated_key("EC", "P-384"), "agent");
    EXPECT_THROW(sign_client_csr(fleet_ca(), csr, "host-1", 1h), pki_error);
}

TEST(pki, refuses_host_ids_that_are_not_plain_identifiers) {
    const auto csr = create_csr(generate_p256_key().private_key_pem, "agent");
    for (const auto& bad : std::vector<std::string>{"", "a,URI:urn:vpsfleet:host:1", "h/1", "x y",
                                                    std::string(65, 'a')}) {
        EXPECT_THROW(sign_client_csr(fleet_ca(), csr, bad, 1h), pki_error) << bad;
    }
}

TEST(pki, errors_carry_openssl_text_and_leave_the_queue_empty) {
    try {
        inspect("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
        FAIL() << "garbage was parsed";
    } catch (const pki_error& e) {
        const std::string message = e.what();
        EXPECT_TRUE(message.starts_with("cannot parse the certificate: error:")) << message;
    }
    EXPECT_EQ(ERR_peek_error(), 0u);
}

TEST(pki, fingerprint_is_stable_lower_case_sha256_of_the_der) {
    const auto& pem = fleet_ca().certificate_pem;
    const auto fingerprint = sha256_fingerprint(pem);
    EXPECT_EQ(fingerprint.size(), 64u);
    EXPECT_EQ(fingerprint.find_first_not_of("0123456789abcdef"), std::string::npos) << fingerprint;
    EXPECT_EQ(sha256_fingerprint(pem), fingerprint);

    const auto cert = load_certificate(pem);
    unsigned char* der = nullptr;
    const int size = i2d_X509(cert.get(), &der);
    ASSERT_GT(size, 0);
    unsigned char digest[32];
    EXPECT_EQ(
        EVP_Digest(der, static_cast<std::size_t>(size), digest, nullptr, EVP_sha256(), nullptr), 1);
    OPENSSL_free(der);
    EXPECT_EQ(fingerprint, lower_hex(digest, sizeof digest));
    EXPECT_NE(sha256_fingerprint(client_certificate(fleet_ca(), "1").certificate_pem), fingerprint);
}

TEST(pki, server_certificate_has_ip_and_dns_sans_and_verifies) {
    const auto key = generate_p256_key();
    const auto issued = issue_server_certificate(fleet_ca(), key.private_key_pem,
                                                 {"127.0.0.1", "coordinator.example", "::1"}, 1h);
    EXPECT_TRUE(
        verify_signed_by(issued.certificate_pem, fleet_ca().certificate_pem, system_clock::now()));

    const auto cert = load_certificate(issued.certificate_pem);
    EXPECT_EQ(X509_check_ip_asc(cert.get(), "127.0.0.1", 0), 1);
    EXPECT_EQ(X509_check_ip_asc(cert.get(), "::1", 0), 1);
    EXPECT_EQ(X509_check_ip_asc(cert.get(), "127.0.0.2", 0), 0);
    EXPECT_EQ(X509_check_host(cert.get(), "coordinator.example", 0, 0, nullptr), 1);
    // An address is never also offered as a DNS name.
    EXPECT_EQ(
        X509_check_host(cert.get(), "127.0.0.1", 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, nullptr),
        0);
    EXPECT_EQ(X509_get_extended_key_usage(cert.get()), static_cast<uint32_t>(XKU_SSL_SERVER));
    EXPECT_EQ(X509_check_ca(cert.get()), 0);
    EXPECT_EQ(inspect(issued.certificate_pem).subject_cn, "127.0.0.1");
    EXPECT_EQ(public_key_to_pem(X509_get0_pubkey(cert.get())), key.public_key_pem);
}

TEST(pki, server_certificate_refuses_names_that_are_neither_address_nor_dns) {
    const auto key = generate_p256_key();
    EXPECT_THROW(issue_server_certificate(fleet_ca(), key.private_key_pem, {}, 1h), pki_error);
    EXPECT_THROW(issue_server_certificate(fleet_ca(), key.private_key_pem, {"a b"}, 1h), pki_error);
}

TEST(pki, write_private_file_creates_mode_0600) {
    temp_dir dir;
    const auto path = dir.path() + "/ca.key";
    const mode_t old_umask = ::umask(0);  // the mode must not depend on a permissive umask
    write_private_file(path, "secret\n");
    ::umask(old_umask);
    EXPECT_EQ(file_mode(path), "0600");
    EXPECT_EQ(read_file(path), "secret\n");
}

TEST(pki, write_private_file_replaces_existing_content_atomically) {
    temp_dir dir;
    const auto path = dir.path() + "/ca.key";
    write_private_file(path, std::string(10'000, 'x'));
    // A reader holding the old file keeps seeing all of it: the new content is a new inode.
    const int reader = ::open(path.c_str(), O_RDONLY);
    ASSERT_GE(reader, 0);
    write_private_file(path, "new");
    EXPECT_EQ(read_file(path), "new");
    EXPECT_EQ(file_mode(path), "0600");
    char buf[16];
    EXPECT_EQ(::pread(reader, buf, sizeof buf, 9'990), 10);
    ::close(reader);
    // No temporary file is left behind.
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
}

TEST(pki, read_file_names_a_missing_file) {
    try {
        read_file("/nonexistent/vpsfleet/ca.key");
        FAIL() << "read a missing file";
    } catch (const pki_error& e) {
        EXPECT_NE(std::string(e.what()).find("/nonexistent/vpsfleet/ca.key"), std::string::npos);
    }
}

TEST(pki, tls13_handshake_with_fleet_certificates_shows_the_server_the_host_id) {
    const auto server_key = generate_p256_key();
    const auto server_cert =
        issue_server_certificate(fleet_ca(), server_key.private_key_pem, {"127.0.0.1"}, 1h);
    const auto client_key = generate_p256_key();
    const auto client_cert =
        sign_client_csr(fleet_ca(), create_csr(client_key.private_key_pem, "agent"), "host-17", 1h);

    auto server = tls_context(true, server_cert.certificate_pem, server_key.private_key_pem,
                              fleet_ca().certificate_pem);
    auto client = tls_context(false, client_cert.certificate_pem, client_key.private_key_pem,
                              fleet_ca().certificate_pem);
    const auto outcome = run_handshake(server.get(), client.get());

    EXPECT_TRUE(outcome.server_accepted);
    EXPECT_TRUE(outcome.client_got_data);
    EXPECT_EQ(outcome.version, TLS1_3_VERSION);
    EXPECT_EQ(outcome.client_verify_result, X509_V_OK);
    ASSERT_FALSE(outcome.server_saw_certificate_pem.empty());
    EXPECT_EQ(inspect(outcome.server_saw_certificate_pem).host_id, "host-17");
}

TEST(pki, tls_handshake_refuses_a_client_certificate_from_another_ca) {
    const auto server_key = generate_p256_key();
    const auto server_cert =
        issue_server_certificate(fleet_ca(), server_key.private_key_pem, {"127.0.0.1"}, 1h);
    const auto rogue_ca = create_ca("rogue CA", 24h);
    const auto client_key = generate_p256_key();
    const auto client_cert =
        sign_client_csr(rogue_ca, create_csr(client_key.private_key_pem, "agent"), "host-17", 1h);

    auto server = tls_context(true, server_cert.certificate_pem, server_key.private_key_pem,
                              fleet_ca().certificate_pem);
    auto client = tls_context(false, client_cert.certificate_pem, client_key.private_key_pem,
                              fleet_ca().certificate_pem);
    const auto outcome = run_handshake(server.get(), client.get());

    // The client accepted the server, so the refusal is the server's.
    EXPECT_EQ(outcome.client_verify_result, X509_V_OK);
    EXPECT_FALSE(outcome.server_accepted);
    EXPECT_FALSE(outcome.client_got_data);
    EXPECT_TRUE(outcome.server_saw_certificate_pem.empty());
}
