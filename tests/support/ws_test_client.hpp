#pragma once
// A WebSocket-over-TLS client for tests that speak the fleet protocol by hand: it connects with a
// given client certificate (or none), sends raw text frames and reads replies with timeouts.
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
