#pragma once
// Owners for OpenSSL objects and PEM/time helpers shared by the pki sources and their tests; not
// part of the pki API, which keeps OpenSSL out of its callers' includes.
#include "common/pki.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

namespace vpsfleet::pki::openssl {

template <auto free_fn>
struct deleter {
    template <class T>
    void operator()(T* p) const {
        free_fn(p);
    }
};

using bio_ptr = std::unique_ptr<BIO, deleter<BIO_free_all>>;
using bignum_ptr = std::unique_ptr<BIGNUM, deleter<BN_free>>;
using pkey_ptr = std::unique_ptr<EVP_PKEY, deleter<EVP_PKEY_free>>;
using pkey_ctx_ptr = std::unique_ptr<EVP_PKEY_CTX, deleter<EVP_PKEY_CTX_free>>;
using x509_ptr = std::unique_ptr<X509, deleter<X509_free>>;
using x509_req_ptr = std::unique_ptr<X509_REQ, deleter<X509_REQ_free>>;
using x509_extension_ptr = std::unique_ptr<X509_EXTENSION, deleter<X509_EXTENSION_free>>;
using x509_store_ptr = std::unique_ptr<X509_STORE, deleter<X509_STORE_free>>;
using x509_store_ctx_ptr = std::unique_ptr<X509_STORE_CTX, deleter<X509_STORE_CTX_free>>;
using asn1_string_ptr = std::unique_ptr<ASN1_STRING, deleter<ASN1_STRING_free>>;
using general_name_ptr = std::unique_ptr<GENERAL_NAME, deleter<GENERAL_NAME_free>>;
using general_names_ptr = std::unique_ptr<GENERAL_NAMES, deleter<GENERAL_NAMES_free>>;

// Throws pki_error with `what` followed by OpenSSL's queued errors, and empties the queue.
[[noreturn]] void fail(std::string_view what);

// Parsing throws on bad input; encrypted private keys are refused instead of prompting.
pkey_ptr load_private_key(const std::string& pem);
x509_ptr load_certificate(const std::string& pem);
x509_req_ptr load_csr(const std::string& pem);

std::string private_key_to_pem(EVP_PKEY* key);
std::string public_key_to_pem(EVP_PKEY* key);
std::string certificate_to_pem(X509* cert);
std::string csr_to_pem(X509_REQ* req);

std::chrono::system_clock::time_point to_time_point(const ASN1_TIME* time);
std::string serial_hex(X509* cert);
std::string lower_hex(const unsigned char* data, std::size_t size);

}  // namespace vpsfleet::pki::openssl
