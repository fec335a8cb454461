#include "tests/support/fake_https_server.hpp"

#include "common/pki.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <atomic>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace vpsfleet::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {
constexpr std::chrono::seconds k_io_timeout{10};
}

struct fake_https_server::impl {
    fake_https_server_options options;
    fake_handler handler;
    std::string ca_pem;
    std::optional<asio::ssl::context> tls;
    // Declared after `tls` and before the acceptor: destroying the io_context destroys the
    // suspended sessions, whose streams still use both.
    asio::io_context io;
    tcp::acceptor acceptor{io};
    std::uint16_t port = 0;
    std::thread thread;
    std::once_flag stopped;

    std::mutex mutex;
    std::chrono::milliseconds delay{0};
    std::atomic<bool> gone{false};

    asio::awaitable<void> accept_loop();
    asio::awaitable<void> serve_plain(tcp::socket socket);
    asio::awaitable<void> serve_tls(tcp::socket socket);
    template <class Stream>
    asio::awaitable<void> exchange(Stream& stream);
};

asio::awaitable<void> fake_https_server::impl::accept_loop() {
    for (;;) {
        beast::error_code ec;
        tcp::socket socket =
            co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        if (ec) continue;
        if (tls) {
            asio::co_spawn(io, serve_tls(std::move(socket)), asio::detached);
        } else {
            asio::co_spawn(io, serve_plain(std::move(socket)), asio::detached);
        }
    }
}

asio::awaitable<void> fake_https_server::impl::serve_plain(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    co_await exchange(stream);
}

asio::awaitable<void> fake_https_server::impl::serve_tls(tcp::socket socket) {
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *tls);
    beast::get_lowest_layer(stream).expires_after(k_io_timeout);
    beast::error_code ec;
    co_await stream.async_handshake(asio::ssl::stream_base::server,
                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;  // e.g. the client did not trust our certificate
    co_await exchange(stream);
}

template <class Stream>
asio::awaitable<void> fake_https_server::impl::exchange(Stream& stream) {
    beast::flat_buffer buffer;
    for (;;) {
        fake_request req;
        beast::error_code ec;
        beast::get_lowest_layer(stream).expires_after(k_io_timeout);
        co_await http::async_read(stream, buffer, req,
                                  asio::redirect_error(asio::use_awaitable, ec));
        if (ec || gone) co_return;
        std::chrono::milliseconds wait;
        {
            std::lock_guard lock(mutex);
            wait = delay;
        }
        if (wait.count() > 0) {
            const auto executor = co_await asio::this_coro::executor;
            asio::steady_timer timer(executor, wait);
            co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        if (gone) co_return;
        fake_response res = handler(req);
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        beast::get_lowest_layer(stream).expires_after(k_io_timeout);
        co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
        if (ec || !res.keep_alive()) co_return;
    }
}

fake_https_server::fake_https_server(fake_https_server_options options, fake_handler handler)
    : impl_(std::make_unique<impl>()) {
    impl& s = *impl_;
    s.options = std::move(options);
    s.handler = std::move(handler);
    if (s.options.tls) {
        std::string certificate = s.options.certificate_pem;
        std::string key = s.options.private_key_pem;
        if (certificate.empty() || key.empty()) {
            const auto authority = pki::create_ca(s.options.ca_name, std::chrono::hours(24));
            const auto pair = pki::generate_p256_key();
            std::vector<std::string> names = {"127.0.0.1", "localhost"};
            if (s.options.bind_address != "0.0.0.0" && s.options.bind_address != "127.0.0.1") {
                names.push_back(s.options.bind_address);
            }
            certificate = pki::issue_server_certificate(authority, pair.private_key_pem, names,
                                                        std::chrono::hours(24))
                              .certificate_pem;
            key = pair.private_key_pem;
            s.ca_pem = authority.certificate_pem;
        }
        s.tls.emplace(asio::ssl::context::tls_server);
        s.tls->use_certificate_chain(asio::buffer(certificate));
        s.tls->use_private_key(asio::buffer(key), asio::ssl::context::pem);
    }
    const tcp::endpoint endpoint(asio::ip::make_address(s.options.bind_address), s.options.port);
    s.acceptor.open(endpoint.protocol());
    s.acceptor.set_option(tcp::acceptor::reuse_address(true));
    s.acceptor.bind(endpoint);
    s.acceptor.listen();
    s.port = s.acceptor.local_endpoint().port();
    asio::co_spawn(s.io, s.accept_loop(), asio::detached);
    s.thread = std::thread([&s] { s.io.run(); });
}

fake_https_server::~fake_https_server() { stop(); }

void fake_https_server::stop() {
    std::call_once(impl_->stopped, [this] {
        impl_->io.stop();
        impl_->thread.join();
    });
}

std::uint16_t fake_https_server::port() const { return impl_->port; }

std::string fake_https_server::url() const {
    std::string host = impl_->options.bind_address;
    if (host == "0.0.0.0") host = "127.0.0.1";
    return std::string(impl_->tls ? "https" : "http") + "://" + host + ":" +
           std::to_string(impl_->port);
}

const std::string& fake_https_server::ca_pem() const { return impl_->ca_pem; }
bool fake_https_server::tls() const { return impl_->tls.has_value(); }

void fake_https_server::set_delay(std::chrono::milliseconds delay) {
    std::lock_guard lock(impl_->mutex);
    impl_->delay = delay;
}

void fake_https_server::vanish() {
    impl_->gone = true;
    if (impl_->io.stopped()) return;  // stopped already: nothing listens
    // The acceptor belongs to the server's thread; close it there, and wait so that a connection
    // attempted after vanish() returns is refused.
    std::promise<void> done;
    asio::post(impl_->io, [this, &done] {
        beast::error_code ec;
        impl_->acceptor.close(ec);
        done.set_value();
    });
    done.get_future().wait();
}

}  // namespace vpsfleet::testing
