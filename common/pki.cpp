// Reading side of the fleet PKI (parsing, fingerprints, inspection, chain checks) and the 0600
// files keys live in. Issuing lives in pki_issue.cpp.
#include "common/pki.hpp"
#include "common/pki_openssl.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <cctype>
#include <cerrno>
#include <climits>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace vpsfleet::pki {
namespace openssl {
namespace {

constexpr std::string_view k_host_uri_prefix = "urn:vpsfleet:host:";

bio_ptr read_bio(const std::string& pem) {
    if (pem.size() > INT_MAX) fail("PEM input too large");
    bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    if (!bio) fail("cannot allocate a BIO");
    return bio;
}

bio_ptr write_bio() {
    bio_ptr bio(BIO_new(BIO_s_mem()));
    if (!bio) fail("cannot allocate a BIO");
    return bio;
}

std::string bio_contents(BIO* bio) {
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio, &data);
    return std::string(data, static_cast<std::size_t>(size));
}

// Without it OpenSSL would ask for a passphrase on the terminal.
int refuse_passphrase(char*, int, int, void*) { return -1; }

void free_string(char* p) { OPENSSL_free(p); }

}  // namespace

void fail(std::string_view what) {
    std::string message(what);
    char buf[256];
    const char* separator = ": ";
    while (const unsigned long code = ERR_get_error()) {
        ERR_error_string_n(code, buf, sizeof buf);
        message += separator;
        message += buf;
        separator = "; ";
    }
    ERR_clear_error();
    throw pki_error(message);
}

pkey_ptr load_private_key(const std::string& pem) {
    auto bio = read_bio(pem);
    pkey_ptr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, refuse_passphrase, nullptr));
    if (!key) fail("cannot parse the private key");
    return key;
}

x509_ptr load_certificate(const std::string& pem) {
    auto bio = read_bio(pem);
    x509_ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) fail("cannot parse the certificate");
    return cert;
}

x509_req_ptr load_csr(const std::string& pem) {
    auto bio = read_bio(pem);
    x509_req_ptr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
    if (!req) fail("cannot parse the certificate signing request");
    return req;
}

std::string private_key_to_pem(EVP_PKEY* key) {
    auto bio = write_bio();
    if (PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
        fail("cannot encode the private key");
    }
    return bio_contents(bio.get());
}

std::string public_key_to_pem(EVP_PKEY* key) {
    auto bio = write_bio();
    if (PEM_write_bio_PUBKEY(bio.get(), key) != 1) fail("cannot encode the public key");
    return bio_contents(bio.get());
}

std::string certificate_to_pem(X509* cert) {
    auto bio = write_bio();
    if (PEM_write_bio_X509(bio.get(), cert) != 1) fail("cannot encode the certificate");
    return bio_contents(bio.get());
}

std::string csr_to_pem(X509_REQ* req) {
    auto bio = write_bio();
    if (PEM_write_bio_X509_REQ(bio.get(), req) != 1) fail("cannot encode the CSR");
    return bio_contents(bio.get());
}

std::chrono::system_clock::time_point to_time_point(const ASN1_TIME* time) {
    using namespace std::chrono;
    std::tm tm{};
    if (!time || ASN1_TIME_to_tm(time, &tm) != 1) fail("cannot read a certificate time");
    const sys_days date = year{tm.tm_year + 1900} / month{static_cast<unsigned>(tm.tm_mon + 1)} /
                          day{static_cast<unsigned>(tm.tm_mday)};
    return system_clock::time_point(date + hours{tm.tm_hour} + minutes{tm.tm_min} +
                                    seconds{tm.tm_sec});
}

std::string serial_hex(X509* cert) {
    bignum_ptr bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
    if (!bn) fail("cannot read the serial number");
    std::unique_ptr<char, deleter<free_string>> hex(BN_bn2hex(bn.get()));
    if (!hex) fail("cannot format the serial number");
    std::string out(hex.get());
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string lower_hex(const unsigned char* data, std::size_t size) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(size * 2);
    for (std::size_t i = 0; i < size; ++i) {
        out += digits[data[i] >> 4];
        out += digits[data[i] & 0xf];
    }
    return out;
}

}  // namespace openssl

using namespace openssl;

std::string sha256_fingerprint(const std::string& certificate_pem) {
    const auto cert = load_certificate(certificate_pem);
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int size = 0;
    if (X509_digest(cert.get(), EVP_sha256(), digest, &size) != 1)
        fail("cannot hash the certificate");
    return lower_hex(digest, size);
}

certificate_info inspect(const std::string& certificate_pem) {
    const auto cert = load_certificate(certificate_pem);
    certificate_info info;

    const X509_NAME* subject = X509_get_subject_name(cert.get());
    const int cn_index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (cn_index >= 0) {
        const ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, cn_index));
        unsigned char* utf8 = nullptr;
        const int size = ASN1_STRING_to_UTF8(&utf8, data);
        if (size < 0) fail("cannot read the subject common name");
        info.subject_cn.assign(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(size));
        OPENSSL_free(utf8);
    }

    // Two different host URIs would make the identity ambiguous, so neither counts.
    general_names_ptr names(static_cast<GENERAL_NAMES*>(
        X509_get_ext_d2i(cert.get(), NID_subject_alt_name, nullptr, nullptr)));
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names.get()); ++i) {
        const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
        if (name->type != GEN_URI) continue;
        const std::string_view uri(
            reinterpret_cast<const char*>(ASN1_STRING_get0_data(name->d.ia5)),
            static_cast<std::size_t>(ASN1_STRING_length(name->d.ia5)));
        if (!uri.starts_with(k_host_uri_prefix)) continue;
        const std::string host(uri.substr(k_host_uri_prefix.size()));
        if (info.host_id && *info.host_id != host) {
            info.host_id.reset();
            break;
        }
        info.host_id = host;
    }

    info.serial_hex = serial_hex(cert.get());
    info.not_before = to_time_point(X509_get0_notBefore(cert.get()));
    info.not_after = to_time_point(X509_get0_notAfter(cert.get()));
    ERR_clear_error();
    return info;
}

bool verify_signed_by(const std::string& certificate_pem, const std::string& ca_certificate_pem,
                      std::chrono::system_clock::time_point now) {
    const auto cert = load_certificate(certificate_pem);
    const auto ca_cert = load_certificate(ca_certificate_pem);
    x509_store_ptr store(X509_STORE_new());
    if (!store || X509_STORE_add_cert(store.get(), ca_cert.get()) != 1) {
        fail("cannot build the trust store");
    }
    x509_store_ctx_ptr ctx(X509_STORE_CTX_new());
    if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr) != 1) {
        fail("cannot start the verification");
    }
    X509_STORE_CTX_set_time(ctx.get(), 0, std::chrono::system_clock::to_time_t(now));
    const bool ok = X509_verify_cert(ctx.get()) == 1;
    ERR_clear_error();
    return ok;
}

namespace {

[[noreturn]] void fail_errno(const std::string& what, const std::string& path) {
    const int error = errno;
    throw pki_error(what + " " + path + ": " + std::strerror(error));
}

struct fd_closer {
    int fd = -1;
    ~fd_closer() {
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

void write_private_file(const std::string& path, const std::string& content) {
    // mkostemp creates the file with mode 0600 and O_EXCL, so there is no moment where the secret
    // sits in a file others may read, and no racing file of the same name can be reused.
    std::string temp = path + ".tmp-XXXXXX";
    fd_closer file{::mkostemp(temp.data(), O_CLOEXEC)};
    if (file.fd < 0) fail_errno("cannot create a temporary file for", path);
    bool renamed = false;
    struct unlink_unless_renamed {
        const std::string& temp;
        const bool& renamed;
        ~unlink_unless_renamed() {
            if (!renamed) ::unlink(temp.c_str());
        }
    } cleanup{temp, renamed};

    for (std::size_t written = 0; written < content.size();) {
        const ssize_t n = ::write(file.fd, content.data() + written, content.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail_errno("cannot write", temp);
        written += static_cast<std::size_t>(n);
    }
    if (::fsync(file.fd) != 0) fail_errno("cannot flush", temp);
    const int fd = file.fd;
    file.fd = -1;
    if (::close(fd) != 0) fail_errno("cannot close", temp);
    if (::rename(temp.c_str(), path.c_str()) != 0) fail_errno("cannot replace", path);
    renamed = true;

    // The rename itself is only durable once the directory is flushed.
    auto dir = std::filesystem::path(path).parent_path();
    if (dir.empty()) dir = ".";
    fd_closer dir_fd{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
    if (dir_fd.fd >= 0) ::fsync(dir_fd.fd);
}

std::string read_file(const std::string& path) {
    fd_closer file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (file.fd < 0) fail_errno("cannot open", path);
    std::string out;
    char buf[8192];
    for (;;) {
        const ssize_t n = ::read(file.fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail_errno("cannot read", path);
        if (n == 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
}

}  // namespace vpsfleet::pki
