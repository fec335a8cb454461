#include "common/tcp_listener.hpp"

#include "common/log.hpp"

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace vpsfleet::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

tcp::endpoint open_listener(tcp::acceptor& acceptor, const std::string& host, std::uint16_t port,
                            const std::string& name, const nlohmann::json& extra) {
    tcp::endpoint ep{asio::ip::make_address(host), port};
    acceptor.open(ep.protocol());
    acceptor.set_option(asio::socket_base::reuse_address(true));
    acceptor.bind(ep);
    acceptor.listen(asio::socket_base::max_listen_connections);
    const auto bound = acceptor.local_endpoint();
    const bool v6 = bound.address().is_v6();
    nlohmann::json fields = extra;
    fields["server"] = name;
    fields["addr"] = (v6 ? "[" : "") + bound.address().to_string() + (v6 ? "]" : "") + ":" +
                     std::to_string(bound.port());
    log::info("listening", fields);
    return bound;
}

asio::awaitable<void> accept_connections(asio::io_context& io, tcp::acceptor& acceptor,
                                         const std::atomic<bool>& stopping, const std::string& name,
                                         std::function<void(tcp::socket)> on_accept) {
    asio::steady_timer backoff(io);
    while (!stopping) {
        boost::system::error_code ec;
        tcp::socket socket = co_await acceptor.async_accept(
            asio::make_strand(io), asio::redirect_error(asio::use_awaitable, ec));
        if (ec) {
            if (stopping || ec == asio::error::operation_aborted) break;
            // Out of descriptors or memory: wait a moment rather than spin.
            log::warn("accept failed", {{"server", name}, {"error", ec.message()}});
            backoff.expires_after(std::chrono::milliseconds(100));
            co_await backoff.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            continue;
        }
        on_accept(std::move(socket));
    }
}

}  // namespace vpsfleet::net
