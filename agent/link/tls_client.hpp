#pragma once
// TLS 1.3 client pieces for the agent's connections to the coordinator's fleet port.
#include <openssl/ssl.h>
#include <boost/asio/ssl/context.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vpsfleet::agent::link {

struct fleet_url {
    std::string host;
    std::uint16_t port = 8443;
    std::string path;  // "/fleet/v1"
};
// Accepts https://HOST[:PORT][/path] and wss://HOST[:PORT][/path]; IPv6 hosts in brackets.
std::optional<fleet_url> parse_fleet_url(std::string_view text);

// trust_ca_pem: verify the server against this CA (none during enrollment, checked afterwards).
// identity: present this key and certificate.
boost::asio::ssl::context make_client_context(const std::optional<std::string>& trust_ca_pem,
                                              const std::string& key_pem = {},
                                              const std::string& certificate_pem = {});

// Sets SNI (for names) and the name or address the server's certificate must carry.
void expect_server(SSL* ssl, const std::string& host);

}  // namespace vpsfleet::agent::link
