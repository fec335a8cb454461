#pragma once
// The coordinator's fleet port: TLS 1.3 only. Without a client certificate a peer may only
// enroll (POST /fleet/v1/enroll with a join token and a CSR); with a certificate from the fleet CA
// that is neither expired nor revoked, and whose host is enabled, it may open the agent link
// (WebSocket on GET /fleet/v1). Refusals are counted by reason.
#include "coordinator/fleet/fleet_context.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <atomic>
#include <memory>

namespace vpsfleet::fleet {

class fleet_listener : public std::enable_shared_from_this<fleet_listener> {
  public:
    fleet_listener(boost::asio::io_context& io, fleet_context& ctx);

    boost::asio::ip::tcp::endpoint listen();
    void start();
    void stop();

  private:
    boost::asio::awaitable<void> accept_loop();
    boost::asio::awaitable<void> serve(boost::asio::ip::tcp::socket socket);
    bool verify_peer(bool preverified, boost::asio::ssl::verify_context& vctx);

    boost::asio::io_context& io_;
    fleet_context& ctx_;
    boost::asio::ssl::context tls_;
    boost::asio::ip::tcp::acceptor acceptor_;
    std::atomic<bool> stopping_{false};
};

}  // namespace vpsfleet::fleet
