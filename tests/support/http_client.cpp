#include "tests/support/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <cctype>
#include <thread>

namespace vpsfleet::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

http_reply http_request(const std::string& host, std::uint16_t port, const std::string& method,
                        const std::string& target, const std::string& body,
                        std::chrono::milliseconds timeout, const http_headers& headers) {
    http_reply reply;
    asio::io_context io;
    beast::tcp_stream stream(io);
    bhttp::request<bhttp::string_body> req{bhttp::string_to_verb(method), target, 11};
    req.set(bhttp::field::host, host);
    req.set(bhttp::field::connection, "close");
    if (!body.empty()) req.set(bhttp::field::content_type, "application/json");
    for (const auto& [name, value] : headers) req.set(name, value);
    req.body() = body;
    req.prepare_payload();
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    beast::error_code failure;

    stream.expires_after(timeout);
    stream.async_connect(
        asio::ip::tcp::endpoint(asio::ip::make_address(host), port), [&](beast::error_code ec) {
            if (ec) {
                failure = ec;
                return;
            }
            bhttp::async_write(stream, req, [&](beast::error_code ec, std::size_t) {
                if (ec) {
                    failure = ec;
                    return;
                }
                bhttp::async_read(stream, buffer, res,
                                  [&](beast::error_code ec, std::size_t) { failure = ec; });
            });
        });
    io.run();
    if (failure) {
        reply.error = failure.message();
        return reply;
    }
    reply.status = res.result_int();
    reply.body = res.body();
    for (const auto& field : res) {
        std::string name(field.name_string());
        std::transform(name.begin(), name.end(), name.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        reply.headers[name] = std::string(field.value());
    }
    return reply;
}

http_reply wait_for_status(const std::string& host, std::uint16_t port, const std::string& target,
                           int status, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    http_reply last;
    while (std::chrono::steady_clock::now() < deadline) {
        last = http_get(host, port, target);
        if (last.status == status) return last;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return last;
}

}  // namespace vpsfleet::testing
