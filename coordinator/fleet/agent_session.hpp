#pragma once
// One agent's live link, held by the coordinator: a reader loop that decodes and handles every
// message, a writer loop draining a bounded queue, and the hello/welcome exchange that brings the
// host online. A peer that cannot keep up with its queue is disconnected, never buffered forever.
#include "common/ws_outbox.hpp"
#include "coordinator/fleet/fleet_context.hpp"
#include "protocol/codec.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

namespace vpsfleet::fleet {

class agent_session : public std::enable_shared_from_this<agent_session> {
  public:
    using tls_stream = boost::beast::ssl_stream<boost::beast::tcp_stream>;
    using ws_stream = boost::beast::websocket::stream<tls_stream>;

    agent_session(ws_stream ws, std::int64_t host_id, std::string serial, fleet_context& ctx);

    // Runs until the link closes; the WebSocket handshake has been done by the listener.
    boost::asio::awaitable<void> run();

    // Thread-safe: queue a message, or drop the link if the queue is full.
    void send(protocol::message body, std::optional<std::string> ref = std::nullopt);
    // Thread-safe: cut the link (revoked, disabled, replaced, shutting down).
    void close(const std::string& reason);

    // Thread-safe: send the host's open commands (all of them on a new link, else only new ones).
    void dispatch_commands(bool include_in_flight);

    std::int64_t host_id() const { return host_id_; }
    const std::string& serial() const { return serial_; }

  private:
    boost::asio::awaitable<void> write_loop();
    boost::asio::awaitable<void> handle(const protocol::envelope& env);
    boost::asio::awaitable<void> on_hello(const protocol::envelope& env, const protocol::hello& h);
    boost::asio::awaitable<void> on_cert_renew(const protocol::envelope& env,
                                               const protocol::cert_renew& r);
    boost::asio::awaitable<void> send_open_commands(bool include_in_flight);
    boost::asio::awaitable<void> on_inventory(const protocol::inventory& inv);
    boost::asio::awaitable<void> on_command_reply(const protocol::envelope& env);
    void reply_error(std::string code, std::string message, std::optional<std::string> ref);
    void drop(const std::string& reason);  // on the strand
    // Sends what is queued, then a close frame; the link ends when the agent answers it.
    void finish(const std::string& reason, boost::beast::websocket::close_reason frame);

    ws_stream ws_;
    const std::int64_t host_id_;
    const std::string serial_;
    fleet_context& ctx_;
    ws_outbox<ws_stream> outbox_;
    bool greeted_ = false;
    bool closing_ = false;
    std::string close_reason_;
};

}  // namespace vpsfleet::fleet
