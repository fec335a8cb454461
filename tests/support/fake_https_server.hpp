#pragma once
// The server half every fake of an outside HTTP API shares (fake RouterOS, fake Stripe, fake
// Proxmox VE): listens on 127.0.0.1 (or a given address) and a free port, over HTTP or TLS with a
// throwaway CA of its own (or a given certificate), reads requests with keep-alive and answers
// each with the fake's handler, from a thread of its own. Every read and write has a timeout.
// The destructor (or stop()) stops the thread; the handler is never called afterwards.
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace vpsfleet::testing {

using fake_request = boost::beast::http::request<boost::beast::http::string_body>;
using fake_response = boost::beast::http::response<boost::beast::http::string_body>;
// Runs on the server's thread, one request at a time.
using fake_handler = std::function<fake_response(const fake_request&)>;

struct fake_https_server_options {
    bool tls = true;
    std::string bind_address = "127.0.0.1";
    std::uint16_t port = 0;  // 0: a free port
    // The CA the server generates (its certificate names 127.0.0.1, localhost and the bind
    // address), unless certificate_pem and private_key_pem are both given.
    std::string ca_name = "fake server CA";
    std::string certificate_pem;
    std::string private_key_pem;
};

class fake_https_server {
  public:
    fake_https_server(fake_https_server_options options, fake_handler handler);
    ~fake_https_server();
    fake_https_server(const fake_https_server&) = delete;
    fake_https_server& operator=(const fake_https_server&) = delete;

    std::uint16_t port() const;
    std::string url() const;            // https://127.0.0.1:PORT (http:// without TLS)
    const std::string& ca_pem() const;  // the generated CA to trust; empty otherwise
    bool tls() const;

    // Each answer waits this long first (a slow or hung server).
    void set_delay(std::chrono::milliseconds delay);
    // The machine goes away: the listener closes (new connections are refused) and requests on
    // open connections get no answer, their connection closed. Cannot be undone.
    void vanish();
    // Joins the thread; idempotent.
    void stop();

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace vpsfleet::testing
