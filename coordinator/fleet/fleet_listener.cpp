#include "coordinator/fleet/fleet_listener.hpp"

#include "common/log.hpp"
#include "common/pki_openssl.hpp"
#include "common/tcp_listener.hpp"
#include "coordinator/fleet/agent_session.hpp"
#include "coordinator/fleet/enrollment.hpp"

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <nlohmann/json.hpp>

namespace vpsfleet::fleet {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using asio::use_awaitable;
using tcp = asio::ip::tcp;

namespace {

// Why the handshake refused a peer, written by the verify callback, read after the handshake.
struct handshake_note {
    std::string refusal;
};
int g_note_index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);

std::string refusal_reason(int x509_error) {
    switch (x509_error) {
        case X509_V_ERR_CERT_HAS_EXPIRED:
            return "expired";
        case X509_V_ERR_CERT_NOT_YET_VALID:
            return "not_yet_valid";
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        case X509_V_ERR_CERT_SIGNATURE_FAILURE:
            return "unknown_ca";
        default:
            return "invalid_certificate";
    }
}

bhttp::response<bhttp::string_body> json_reply(bhttp::status status, const nlohmann::json& body) {
    bhttp::response<bhttp::string_body> res{status, 11};
    res.set(bhttp::field::content_type, "application/json");
    res.set(bhttp::field::server, "vpsfleet-coordinator");
    res.body() = body.dump();
    res.prepare_payload();
    return res;
}

bhttp::response<bhttp::string_body> refusal(bhttp::status status, const std::string& code,
                                            const std::string& msg) {
    return json_reply(status, {{"error", {{"code", code}, {"message", msg}}}});
}

}  // namespace

fleet_listener::fleet_listener(asio::io_context& io, fleet_context& ctx)
    : io_(io), ctx_(ctx), tls_(asio::ssl::context::tls_server), acceptor_(io) {
    SSL_CTX_set_min_proto_version(tls_.native_handle(), TLS1_3_VERSION);
    // Idle links (most of them, between heartbeats) give their TLS record buffers back.
    SSL_CTX_set_mode(tls_.native_handle(), SSL_MODE_RELEASE_BUFFERS);
    const auto identity = issue_listener_identity(ctx_.ca, ctx_.cfg);
    tls_.use_certificate_chain(asio::buffer(identity.certificate_pem));
    tls_.use_private_key(asio::buffer(identity.private_key_pem), asio::ssl::context::pem);
    tls_.add_certificate_authority(asio::buffer(ctx_.ca.authority.certificate_pem));
    // Ask for a certificate but let peers without one in: they may only enroll.
    tls_.set_verify_mode(asio::ssl::verify_peer);
    tls_.set_verify_callback([this](bool preverified, asio::ssl::verify_context& vctx) {
        return verify_peer(preverified, vctx);
    });
}

bool fleet_listener::verify_peer(bool preverified, asio::ssl::verify_context& vctx) {
    X509_STORE_CTX* store = vctx.native_handle();
    SSL* ssl =
        static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    auto* note = ssl ? static_cast<handshake_note*>(SSL_get_ex_data(ssl, g_note_index)) : nullptr;
    auto refuse = [&](std::string reason) {
        if (note && note->refusal.empty()) note->refusal = std::move(reason);
        return false;
    };
    if (!preverified) return refuse(refusal_reason(X509_STORE_CTX_get_error(store)));
    if (X509_STORE_CTX_get_error_depth(store) != 0) return true;
    try {
        const auto info =
            pki::inspect(pki::openssl::certificate_to_pem(X509_STORE_CTX_get_current_cert(store)));
        if (!info.host_id) return refuse("no_host_id");
        if (ctx_.refused(std::stoll(*info.host_id), info.serial_hex)) return refuse("revoked");
    } catch (const std::exception&) {
        return refuse("invalid_certificate");
    }
    return true;
}

tcp::endpoint fleet_listener::listen() {
    return net::open_listener(acceptor_, ctx_.cfg.listen.host, ctx_.cfg.listen.port, "fleet",
                              {{"ca_fingerprint", ctx_.ca.fingerprint}});
}

void fleet_listener::start() {
    asio::co_spawn(
        acceptor_.get_executor(), [self = shared_from_this()] { return self->accept_loop(); },
        asio::detached);
}

void fleet_listener::stop() {
    stopping_ = true;
    asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
        beast::error_code ignored;
        self->acceptor_.close(ignored);
    });
    for (const auto& session : ctx_.sessions()) session->close("coordinator_stopping");
}

asio::awaitable<void> fleet_listener::accept_loop() {
    co_await net::accept_connections(
        io_, acceptor_, stopping_, "fleet", [this](tcp::socket socket) {
            auto executor = socket.get_executor();
            asio::co_spawn(
                executor,
                [self = shared_from_this(), s = std::move(socket)]() mutable {
                    return self->serve(std::move(s));
                },
                asio::detached);
        });
}

asio::awaitable<void> fleet_listener::serve(tcp::socket socket) {
    auto self = shared_from_this();
    agent_session::tls_stream stream(std::move(socket), tls_);
    handshake_note note;
    SSL_set_ex_data(stream.native_handle(), g_note_index, &note);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
    beast::error_code ec;
    co_await stream.async_handshake(asio::ssl::stream_base::server,
                                    asio::redirect_error(use_awaitable, ec));
    SSL_set_ex_data(stream.native_handle(), g_note_index, nullptr);
    if (ec) {
        ctx_.metrics.handshake_failure(note.refusal.empty() ? "tls_error" : note.refusal);
        log::info("fleet handshake refused",
                  {{"reason", note.refusal.empty() ? ec.message() : note.refusal}});
        co_return;
    }

    beast::flat_buffer buffer;
    bhttp::request_parser<bhttp::string_body> parser;
    parser.body_limit(64 * 1024);
    co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
    if (ec) co_return;
    auto req = parser.release();
    const std::string target(req.target());

    std::optional<bhttp::response<bhttp::string_body>> res;
    if (target == "/fleet/v1" && beast::websocket::is_upgrade(req)) {
        X509* peer = SSL_get_peer_certificate(stream.native_handle());
        if (peer == nullptr) {
            ctx_.metrics.handshake_failure("no_certificate");
            res = refusal(
                bhttp::status::unauthorized, "certificate_required",
                "the agent link needs a client certificate from the fleet CA: enroll first");
        } else {
            const auto info = pki::inspect(pki::openssl::certificate_to_pem(peer));
            X509_free(peer);
            beast::get_lowest_layer(stream).expires_never();
            auto ws = std::make_shared<agent_session::ws_stream>(std::move(stream));
            co_await ws->async_accept(req, asio::redirect_error(use_awaitable, ec));
            if (ec) co_return;
            auto session = std::make_shared<agent_session>(
                std::move(*ws), std::stoll(*info.host_id), info.serial_hex, ctx_);
            co_await session->run();
            co_return;
        }
    } else if (target == "/fleet/v1/enroll" && req.method() == bhttp::verb::post) {
        nlohmann::json body = nlohmann::json::parse(req.body(), nullptr, false);
        enroll_request er;
        if (body.is_object() && body.value("token", nlohmann::json()).is_string() &&
            body.value("csr_pem", nlohmann::json()).is_string() &&
            body.value("host_name", nlohmann::json()).is_string()) {
            er.token = body["token"];
            er.csr_pem = body["csr_pem"];
            er.host_name = body["host_name"];
            if (body.contains("kind") && body["kind"].is_string()) er.kind = body["kind"];
            try {
                auto work = [&ca = ctx_.ca, er,
                             lifetime = ctx_.cfg.certificate_lifetime](pqxx::connection& c) {
                    return enroll(c, ca.authority, er, lifetime);
                };
                auto outcome = co_await ctx_.db.run(work);
                if (auto* ok = std::get_if<enrolled>(&outcome)) {
                    ctx_.metrics.enrollment("enrolled");
                    log::info("host enrolled",
                              {{"host_id", ok->host_id}, {"host_name", er.host_name}});
                    res = json_reply(
                        bhttp::status::ok,
                        {{"host_id", std::to_string(ok->host_id)},
                         {"certificate_pem", ok->certificate.certificate_pem},
                         {"ca_pem", ctx_.ca.authority.certificate_pem},
                         {"not_after", std::chrono::duration_cast<std::chrono::milliseconds>(
                                           ok->certificate.not_after.time_since_epoch())
                                           .count()}});
                } else {
                    const auto& no = std::get<enroll_refused>(outcome);
                    ctx_.metrics.enrollment(no.code);
                    const bool conflict = no.code == "host_online";
                    const bool bad_token = no.code.find("token") != std::string::npos;
                    res = refusal(conflict    ? bhttp::status::conflict
                                  : bad_token ? bhttp::status::forbidden
                                              : bhttp::status::bad_request,
                                  no.code, no.message);
                }
            } catch (const std::exception& e) {
                log::error("enrollment failed", {{"error", e.what()}});
                res = refusal(bhttp::status::service_unavailable, "unavailable",
                              "enrollment is unavailable, retry later");
            }
        } else {
            res = refusal(bhttp::status::bad_request, "invalid_request",
                          "expected a JSON object with string fields token, csr_pem and host_name");
        }
    } else {
        res = refusal(bhttp::status::not_found, "route_not_found",
                      "route not found: " + std::string(req.method_string()) + " " + target);
    }
    res->keep_alive(false);
    beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(10));
    co_await bhttp::async_write(stream, *res, asio::redirect_error(use_awaitable, ec));
    co_await stream.async_shutdown(asio::redirect_error(use_awaitable, ec));
}

}  // namespace vpsfleet::fleet
