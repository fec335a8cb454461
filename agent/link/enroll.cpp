#include "agent/link/enroll.hpp"

#include "agent/link/credentials.hpp"
#include "agent/link/tls_client.hpp"
#include "common/pki.hpp"
#include "common/pki_openssl.hpp"

#include <openssl/pem.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <stdexcept>

namespace vpsfleet::agent::link {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

namespace {

struct exchange {
    int status = 0;
    std::string body;
    std::string server_certificate_pem;
};

asio::awaitable<exchange> post_enrollment(const fleet_url& url, std::string body) {
    auto executor = co_await asio::this_coro::executor;
    asio::ip::tcp::resolver resolver(executor);
    auto tls = make_client_context(std::nullopt);
    beast::ssl_stream<beast::tcp_stream> stream(executor, tls);
    expect_server(stream.native_handle(), url.host);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(20));
    const std::string port = std::to_string(url.port);  // not a temporary in co_await (GCC 12)
    const auto endpoints = co_await resolver.async_resolve(url.host, port, asio::use_awaitable);
    co_await beast::get_lowest_layer(stream).async_connect(endpoints, asio::use_awaitable);
    co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);

    exchange out;
    if (X509* peer = SSL_get_peer_certificate(stream.native_handle())) {
        out.server_certificate_pem = pki::openssl::certificate_to_pem(peer);
        X509_free(peer);
    }
    bhttp::request<bhttp::string_body> req{bhttp::verb::post, "/fleet/v1/enroll", 11};
    req.set(bhttp::field::host, url.host);
    req.set(bhttp::field::content_type, "application/json");
    req.body() = std::move(body);
    req.prepare_payload();
    co_await bhttp::async_write(stream, req, asio::use_awaitable);
    beast::flat_buffer buffer;
    bhttp::response<bhttp::string_body> res;
    co_await bhttp::async_read(stream, buffer, res, asio::use_awaitable);
    out.status = res.result_int();
    out.body = res.body();
    co_return out;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::erase(s, ':');
    return s;
}

}  // namespace

enroll_result enroll(const enroll_options& options) {
    const auto url = parse_fleet_url(options.coordinator);
    if (!url)
        throw std::runtime_error("--coordinator must look like https://HOST:8443, got '" +
                                 options.coordinator + "'");
    if (options.token.empty()) throw std::runtime_error("--token is required");

    const auto key = pki::generate_p256_key();
    const nlohmann::json request{
        {"token", options.token},
        {"csr_pem", pki::create_csr(key.private_key_pem, options.host_name)},
        {"host_name", options.host_name},
        {"kind", "libvirt"}};
    asio::io_context io;
    auto pending = asio::co_spawn(io, post_enrollment(*url, request.dump()), asio::use_future);
    io.run();
    exchange reply;
    try {
        reply = pending.get();
    } catch (const std::exception& e) {
        throw std::runtime_error("cannot reach the coordinator at " + options.coordinator + ": " +
                                 e.what());
    }
    const auto body = nlohmann::json::parse(reply.body, nullptr, false);
    if (reply.status != 200) {
        std::string why = reply.body;
        if (body.is_object() && body.contains("error"))
            why = body["error"].value("message", reply.body);
        throw std::runtime_error("the coordinator refused the enrollment (HTTP " +
                                 std::to_string(reply.status) + "): " + why);
    }
    if (!body.is_object() || !body["ca_pem"].is_string() || !body["certificate_pem"].is_string() ||
        !body["host_id"].is_string()) {
        throw std::runtime_error("the coordinator's enrollment answer is not understood: " +
                                 reply.body);
    }
    const std::string ca_pem = body["ca_pem"];
    const std::string fingerprint = pki::sha256_fingerprint(ca_pem);
    if (options.ca_fingerprint && lower(*options.ca_fingerprint) != fingerprint) {
        throw std::runtime_error("the coordinator's CA fingerprint is " + fingerprint +
                                 ", not the expected one: refusing to trust it");
    }
    // The server we talked to must belong to the CA we are about to trust.
    const auto now = std::chrono::system_clock::now();
    if (reply.server_certificate_pem.empty() ||
        !pki::verify_signed_by(reply.server_certificate_pem, ca_pem, now)) {
        throw std::runtime_error(
            "the coordinator's TLS certificate is not signed by the CA it returned");
    }
    save_credentials(
        options.state_dir,
        credentials{
            "wss://" +
                (url->host.find(':') != std::string::npos ? "[" + url->host + "]" : url->host) +
                ":" + std::to_string(url->port) + "/fleet/v1",
            body["host_id"], key.private_key_pem, body["certificate_pem"], ca_pem});
    return enroll_result{body["host_id"], fingerprint};
}

}  // namespace vpsfleet::agent::link
