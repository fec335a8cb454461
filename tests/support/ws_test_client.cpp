#include "tests/support/ws_test_client.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace vpsfleet::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;

struct ws_test_client::impl {
    asio::io_context io;
    asio::ssl::context tls{asio::ssl::context::tls_client};
    std::unique_ptr<websocket::stream<beast::ssl_stream<beast::tcp_stream>>> ws;
    std::unique_ptr<websocket::stream<beast::tcp_stream>> plain;
    beast::flat_buffer buffer;
    std::optional<int> close_code;

    // Runs the io_context until `done` or the timeout; returns false on timeout.
    template <class Done>
    bool run_until(Done done, std::chrono::milliseconds timeout) {
        io.restart();
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        while (!done()) {
            if (io.run_one_until(deadline) == 0) return done();
            if (io.stopped()) io.restart();
        }
        return true;
    }

    // Calls f with whichever stream is connected.
    template <class F>
    auto with_stream(F f) {
        return plain ? f(*plain) : f(*ws);
    }
};

ws_test_client::ws_test_client() : impl_(std::make_unique<impl>()) {}
ws_test_client::~ws_test_client() = default;

std::string ws_test_client::connect(std::uint16_t port, const tls_identity& identity,
                                    std::chrono::milliseconds timeout) {
    SSL_CTX_set_min_proto_version(impl_->tls.native_handle(), TLS1_3_VERSION);
    impl_->tls.add_certificate_authority(asio::buffer(identity.ca_pem));
    impl_->tls.set_verify_mode(asio::ssl::verify_peer);
    if (!identity.certificate_pem.empty()) {
        impl_->tls.use_certificate_chain(asio::buffer(identity.certificate_pem));
        impl_->tls.use_private_key(asio::buffer(identity.private_key_pem), asio::ssl::context::pem);
    }
    impl_->ws = std::make_unique<websocket::stream<beast::ssl_stream<beast::tcp_stream>>>(
        impl_->io, impl_->tls);
    auto& ws = *impl_->ws;
    beast::get_lowest_layer(ws).expires_after(timeout);
    std::string failure;
    bool finished = false;
    const asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
    beast::get_lowest_layer(ws).async_connect(ep, [&](beast::error_code ec) {
        if (ec) {
            failure = "connect: " + ec.message();
            finished = true;
            return;
        }
        ws.next_layer().async_handshake(asio::ssl::stream_base::client, [&](beast::error_code ec) {
            if (ec) {
                failure = "tls: " + ec.message();
                finished = true;
                return;
            }
            ws.async_handshake("127.0.0.1", "/fleet/v1", [&](beast::error_code ec) {
                if (ec) failure = "websocket: " + ec.message();
                finished = true;
            });
        });
    });
    if (!impl_->run_until([&] { return finished; }, timeout + std::chrono::seconds(1)))
        return "timeout";
    beast::get_lowest_layer(ws).expires_never();
    return failure;
}

std::string ws_test_client::connect_plain(std::uint16_t port, const std::string& target,
                                          std::chrono::milliseconds timeout) {
    impl_->plain = std::make_unique<websocket::stream<beast::tcp_stream>>(impl_->io);
    auto& ws = *impl_->plain;
    beast::get_lowest_layer(ws).expires_after(timeout);
    std::string failure;
    bool finished = false;
    websocket::response_type refusal;
    const asio::ip::tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
    beast::get_lowest_layer(ws).async_connect(ep, [&](beast::error_code ec) {
        if (ec) {
            failure = "connect: " + ec.message();
            finished = true;
            return;
        }
        ws.async_handshake(
            refusal, "127.0.0.1:" + std::to_string(port), target, [&](beast::error_code ec) {
                if (ec == websocket::error::upgrade_declined) {
                    failure =
                        "status " + std::to_string(refusal.result_int()) + ": " + refusal.body();
                } else if (ec) {
                    failure = "websocket: " + ec.message();
                }
                finished = true;
            });
    });
    if (!impl_->run_until([&] { return finished; }, timeout + std::chrono::seconds(1)))
        return "timeout";
    beast::get_lowest_layer(ws).expires_never();
    return failure;
}

bool ws_test_client::send(const std::string& text) {
    bool finished = false;
    beast::error_code result;
    impl_->with_stream([&](auto& ws) {
        ws.text(true);
        ws.async_write(asio::buffer(text), [&](beast::error_code ec, std::size_t) {
            result = ec;
            finished = true;
        });
    });
    return impl_->run_until([&] { return finished; }, std::chrono::seconds(10)) && !result;
}

std::optional<std::string> ws_test_client::receive(std::chrono::milliseconds timeout) {
    bool finished = false;
    beast::error_code result;
    impl_->buffer.consume(impl_->buffer.size());
    impl_->with_stream([&](auto& ws) {
        ws.async_read(impl_->buffer, [&](beast::error_code ec, std::size_t) {
            result = ec;
            finished = true;
        });
    });
    if (!impl_->run_until([&] { return finished; }, timeout)) {
        impl_->with_stream([](auto& ws) { beast::get_lowest_layer(ws).cancel(); });
        impl_->run_until([&] { return finished; }, std::chrono::seconds(5));
        return std::nullopt;
    }
    if (result) {
        if (result == websocket::error::closed)
            impl_->close_code = impl_->with_stream([](auto& ws) { return ws.reason().code; });
        return std::nullopt;
    }
    return beast::buffers_to_string(impl_->buffer.data());
}

std::optional<int> ws_test_client::close_code() const { return impl_->close_code; }

}  // namespace vpsfleet::testing
