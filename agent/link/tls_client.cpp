#include "agent/link/tls_client.hpp"

#include <openssl/x509v3.h>
#include <boost/asio/ip/address.hpp>

#include <charconv>

namespace vpsfleet::agent::link {

std::optional<fleet_url> parse_fleet_url(std::string_view text) {
    std::string_view rest;
    if (text.starts_with("https://")) {
        rest = text.substr(8);
    } else if (text.starts_with("wss://")) {
        rest = text.substr(6);
    } else {
        return std::nullopt;
    }
    fleet_url out;
    const auto slash = rest.find('/');
    std::string_view authority = rest.substr(0, slash);
    out.path = slash == std::string_view::npos ? "" : std::string(rest.substr(slash));
    std::string_view port_text;
    if (authority.starts_with("[")) {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        out.host = std::string(authority.substr(1, close - 1));
        if (close + 1 < authority.size()) {
            if (authority[close + 1] != ':') return std::nullopt;
            port_text = authority.substr(close + 2);
        }
    } else {
        const auto colon = authority.rfind(':');
        out.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
    }
    if (out.host.empty()) return std::nullopt;
    if (!port_text.empty()) {
        auto [ptr, ec] =
            std::from_chars(port_text.data(), port_text.data() + port_text.size(), out.port);
        if (ec != std::errc{} || ptr != port_text.data() + port_text.size() || out.port == 0)
            return std::nullopt;
    }
    return out;
}

boost::asio::ssl::context make_client_context(const std::optional<std::string>& trust_ca_pem,
                                              const std::string& key_pem,
                                              const std::string& certificate_pem) {
    boost::asio::ssl::context ctx(boost::asio::ssl::context::tls_client);
    SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_3_VERSION);
    if (trust_ca_pem) {
        ctx.add_certificate_authority(boost::asio::buffer(*trust_ca_pem));
        ctx.set_verify_mode(boost::asio::ssl::verify_peer);
    } else {
        ctx.set_verify_mode(boost::asio::ssl::verify_none);
    }
    if (!certificate_pem.empty()) {
        ctx.use_certificate_chain(boost::asio::buffer(certificate_pem));
        ctx.use_private_key(boost::asio::buffer(key_pem), boost::asio::ssl::context::pem);
    }
    return ctx;
}

void expect_server(SSL* ssl, const std::string& host) {
    boost::system::error_code ec;
    boost::asio::ip::make_address(host, ec);
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
    if (ec) {
        SSL_set_tlsext_host_name(ssl, host.c_str());
        X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
    } else {
        X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    }
}

}  // namespace vpsfleet::agent::link
