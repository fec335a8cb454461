#include "common/http_server.hpp"

#include "common/log.hpp"
#include "common/tcp_listener.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <nlohmann/json.hpp>

namespace vpsfleet::http {

using asio::use_awaitable;

struct server::connection {
    explicit connection(tcp::socket socket) : stream(std::move(socket)) {}
    beast::tcp_stream stream;
    bool busy = false;  // guarded by the connection's strand
};

namespace {

std::string peer_address(beast::tcp_stream& stream) {
    beast::error_code ec;
    const auto ep = stream.socket().remote_endpoint(ec);
    return ec ? std::string("unknown") : ep.address().to_string();
}

}  // namespace

response json_response(status code, std::string body) {
    return text_response(code, std::move(body), "application/json");
}

response text_response(status code, std::string body, std::string content_type) {
    response res{code, 11};
    res.set(beast::http::field::content_type, content_type);
    res.body() = std::move(body);
    return res;
}

response json_error(status code, const std::string& message) {
    return json_response(code, nlohmann::json{{"error", message}}.dump());
}

server::server(asio::io_context& io, server_options options, handler on_request)
    : io_(io), options_(std::move(options)), on_request_(std::move(on_request)), acceptor_(io) {
    if (!options_.make_error) options_.make_error = json_error;
}

tcp::endpoint server::listen(const std::string& host, std::uint16_t port) {
    return net::open_listener(acceptor_, host, port, options_.name);
}

void server::start() {
    asio::co_spawn(
        acceptor_.get_executor(), [self = shared_from_this()] { return self->accept_loop(); },
        asio::detached);
}

void server::stop() {
    if (stopping_.exchange(true)) return;
    asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
        beast::error_code ignored;
        self->acceptor_.close(ignored);
    });
    std::lock_guard lock(mutex_);
    for (auto& weak : connections_) {
        if (auto conn = weak.lock()) {
            asio::post(conn->stream.get_executor(), [conn] {
                if (!conn->busy) conn->stream.socket().close();
            });
        }
    }
}

std::size_t server::open_connections() const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& weak : connections_) n += weak.expired() ? 0 : 1;
    return n;
}

asio::awaitable<void> server::accept_loop() {
    co_await net::accept_connections(
        io_, acceptor_, stopping_, options_.name, [this](tcp::socket socket) {
            auto conn = std::make_shared<connection>(std::move(socket));
            {
                std::lock_guard lock(mutex_);
                std::erase_if(connections_, [](const auto& w) { return w.expired(); });
                connections_.push_back(conn);
            }
            asio::co_spawn(
                conn->stream.get_executor(),
                [self = shared_from_this(), conn] { return self->serve(conn); }, asio::detached);
        });
}

asio::awaitable<response> server::dispatch(request& req) {
    try {
        co_return co_await on_request_(req);
    } catch (const std::exception& e) {
        log::error("request handler failed", {{"server", options_.name},
                                              {"target", std::string(req.target())},
                                              {"error", e.what()}});
    }
    co_return options_.make_error(status::internal_server_error, "internal error");
}

asio::awaitable<upgrade_answer> server::dispatch_upgrade(request& req) {
    try {
        co_return co_await options_.on_upgrade(req);
    } catch (const std::exception& e) {
        log::error("upgrade handler failed", {{"server", options_.name},
                                              {"target", std::string(req.target())},
                                              {"error", e.what()}});
    }
    co_return upgrade_answer{options_.make_error(status::internal_server_error, "internal error"),
                             nullptr};
}

asio::awaitable<void> server::run_websocket(std::shared_ptr<connection> conn, request& req,
                                            upgrade_answer answer) {
    conn->stream.expires_never();
    websocket_stream ws(std::move(conn->stream));
    ws.set_option(beast::websocket::stream_base::decorator(
        [extra = std::move(answer.res), name = options_.name](beast::websocket::response_type& r) {
            for (const auto& field : extra) {
                if (field.name() == beast::http::field::content_length ||
                    field.name() == beast::http::field::content_type)
                    continue;
                r.set(field.name_string(), field.value());
            }
            r.set(beast::http::field::server, name);
        }));
    beast::error_code ec;
    co_await ws.async_accept(req, asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    co_await answer.session(std::move(ws));
}

asio::awaitable<void> server::serve(std::shared_ptr<connection> conn) {
    beast::flat_buffer buffer;
    bool first = true;
    while (!stopping_) {
        beast::http::request_parser<beast::http::string_body> parser;
        parser.body_limit(options_.body_limit);
        parser.header_limit(options_.header_limit);
        conn->busy = false;
        conn->stream.expires_after(first ? options_.read_timeout : options_.idle_timeout);
        first = false;

        beast::error_code ec;
        co_await beast::http::async_read_header(conn->stream, buffer, parser,
                                                asio::redirect_error(use_awaitable, ec));
        if (!ec) {
            conn->busy = true;
            conn->stream.expires_after(options_.read_timeout);
            co_await beast::http::async_read(conn->stream, buffer, parser,
                                             asio::redirect_error(use_awaitable, ec));
        }
        response res;
        bool keep_alive = false;
        if (ec == beast::http::error::body_limit) {
            res = options_.make_error(
                status::payload_too_large,
                "request body exceeds " + std::to_string(options_.body_limit) + " bytes");
        } else if (ec == beast::http::error::header_limit) {
            res = options_.make_error(status::request_header_fields_too_large,
                                      "request headers too large");
        } else if (ec &&
                   ec.category() ==
                       beast::http::make_error_code(beast::http::error::bad_method).category() &&
                   ec != beast::http::error::end_of_stream &&
                   ec != beast::http::error::partial_message) {
            res =
                options_.make_error(status::bad_request, "malformed HTTP request: " + ec.message());
        } else if (ec) {
            break;  // peer closed, idle timeout, or shutdown
        } else {
            request req = parser.release();
            req.set(peer_address_field, peer_address(conn->stream));
            keep_alive = req.keep_alive();
            if (options_.on_upgrade && beast::websocket::is_upgrade(req)) {
                auto answer = co_await dispatch_upgrade(req);
                if (answer.session && answer.res.result() == status::switching_protocols) {
                    co_await run_websocket(conn, req, std::move(answer));
                    co_return;
                }
                res = std::move(answer.res);
            } else {
                res = co_await dispatch(req);
            }
            res.version(req.version());
        }
        keep_alive = keep_alive && !stopping_;
        res.set(beast::http::field::server, options_.name);
        res.keep_alive(keep_alive);
        res.prepare_payload();
        conn->stream.expires_after(options_.write_timeout);
        co_await beast::http::async_write(conn->stream, res,
                                          asio::redirect_error(use_awaitable, ec));
        if (ec || !keep_alive) break;
    }
    beast::error_code ignored;
    conn->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    conn->stream.socket().close(ignored);
}

}  // namespace vpsfleet::http
