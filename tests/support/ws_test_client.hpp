#pragma once
// A WebSocket client for tests: over TLS with a given client certificate (or none) to speak the
// fleet protocol by hand, or over plain TCP to any target (the admin API's WebSockets); it sends
// raw text frames and reads replies with timeouts.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace vpsfleet::testing {

struct tls_identity {
    std::string ca_pem;           // trust anchor for the server
    std::string certificate_pem;  // empty: connect without a client certificate
    std::string private_key_pem;
};

class ws_test_client {
  public:
    ws_test_client();
    ~ws_test_client();

    // Empty string on success, else what failed (TLS handshake, HTTP status of the upgrade, ...).
    std::string connect(std::uint16_t port, const tls_identity& identity,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // Plain ws:// to 127.0.0.1:port and `target`. A refused upgrade reads "status <code>: <body>".
    std::string connect_plain(std::uint16_t port, const std::string& target,
                              std::chrono::milliseconds timeout = std::chrono::seconds(10));
    bool send(const std::string& text);
    // The next text frame, or nullopt when the link closed or nothing came in time.
    std::optional<std::string> receive(
        std::chrono::milliseconds timeout = std::chrono::seconds(10));
    // The close code the server sent, once receive() returned nullopt because of a close.
    std::optional<int> close_code() const;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace vpsfleet::testing
