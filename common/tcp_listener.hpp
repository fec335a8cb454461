#pragma once
// The listening half every server of ours shares: open and bind an acceptor (logging the bound
// address), and an accept loop that hands each socket, on a strand of its own, to the server and
// backs off instead of spinning when descriptors or memory run out.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

namespace vpsfleet::net {

// Binds host:port (port 0: any free port) and logs {"msg":"listening","server":name,"addr":...}
// plus `extra` fields. Returns the bound endpoint.
boost::asio::ip::tcp::endpoint open_listener(
    boost::asio::ip::tcp::acceptor& acceptor, const std::string& host, std::uint16_t port,
    const std::string& name, const nlohmann::json& extra = nlohmann::json::object());

// Accepts until the acceptor is closed or `stopping` is set.
boost::asio::awaitable<void> accept_connections(
    boost::asio::io_context& io, boost::asio::ip::tcp::acceptor& acceptor,
    const std::atomic<bool>& stopping, const std::string& name,
    std::function<void(boost::asio::ip::tcp::socket)> on_accept);

}  // namespace vpsfleet::net
