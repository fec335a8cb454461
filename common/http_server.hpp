#pragma once
// A small HTTP/1.1 server on Boost.Beast with C++20 coroutines, shared by the coordinator's REST
// listener and the agent's /metrics listener. Every read and write runs under a timeout, headers
// and bodies are capped, and stop() refuses new connections, closes idle ones and lets in-flight
// requests finish. A WebSocket upgrade goes to its own handler, which may hand the connection to
// a session.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/stream_fwd.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>

namespace vpsfleet::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using request = beast::http::request<beast::http::string_body>;
using response = beast::http::response<beast::http::string_body>;
using status = beast::http::status;

using handler = std::function<asio::awaitable<response>(request&)>;
// The server stamps each request with the peer's address under this header, replacing any value
// the client sent, so handlers (rate limits, logs) can see who called.
inline constexpr const char* peer_address_field = "X-Vpsfleet-Peer-Address";
// Builds the error response for failures the server detects itself (bad request, body too large,
// handler exception), so each API can keep its own error shape.
using error_builder = std::function<response(status, const std::string& message)>;

using websocket_stream = beast::websocket::stream<beast::tcp_stream>;
// Runs an accepted WebSocket until it ends; it owns the connection from then on.
using websocket_session = std::function<asio::awaitable<void>(websocket_stream)>;
// The answer to an upgrade request: 101 Switching Protocols with the session to run (the
// response's other headers go out with the handshake), or any other response refusing it.
struct upgrade_answer {
    response res;
    websocket_session session;
};
using upgrade_handler = std::function<asio::awaitable<upgrade_answer>(request&)>;

struct server_options {
    std::string name = "vpsfleet";
    std::size_t body_limit = 1024 * 1024;
    std::uint32_t header_limit = 16 * 1024;
    std::chrono::milliseconds read_timeout{15'000};
    std::chrono::milliseconds idle_timeout{60'000};
    std::chrono::milliseconds write_timeout{15'000};
    error_builder make_error;
    upgrade_handler on_upgrade;  // empty: upgrade requests are served like any other
};

response json_response(status code, std::string body);
response text_response(status code, std::string body, std::string content_type);
response json_error(status code, const std::string& message);

class server : public std::enable_shared_from_this<server> {
  public:
    server(asio::io_context& io, server_options options, handler on_request);

    // Binds and listens, logging the bound address; port 0 becomes a free port.
    tcp::endpoint listen(const std::string& host, std::uint16_t port);
    void start();
    // Stops accepting and closes idle connections; busy ones answer with Connection: close.
    void stop();
    std::size_t open_connections() const;

  private:
    struct connection;
    asio::awaitable<void> accept_loop();
    asio::awaitable<void> serve(std::shared_ptr<connection> conn);
    asio::awaitable<response> dispatch(request& req);
    asio::awaitable<upgrade_answer> dispatch_upgrade(request& req);
    asio::awaitable<void> run_websocket(std::shared_ptr<connection> conn, request& req,
                                        upgrade_answer answer);

    asio::io_context& io_;
    server_options options_;
    handler on_request_;
    tcp::acceptor acceptor_;
    std::atomic<bool> stopping_{false};
    mutable std::mutex mutex_;
    std::list<std::weak_ptr<connection>> connections_;
};

}  // namespace vpsfleet::http
