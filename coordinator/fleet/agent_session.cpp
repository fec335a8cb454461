#include "coordinator/fleet/agent_session.hpp"

#include "common/build_info.hpp"
#include "common/config_reader.hpp"
#include "common/log.hpp"
#include "coordinator/fleet/commands.hpp"
#include "coordinator/fleet/enrollment.hpp"
#include "coordinator/fleet/reconciliation.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <nlohmann/json.hpp>

namespace vpsfleet::fleet {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::use_awaitable;

namespace {

nlohmann::json facts_json(const protocol::host_facts& f) {
    nlohmann::json disks = nlohmann::json::array();
    for (const auto& d : f.disks) {
        disks.push_back(
            {{"name", d.name}, {"size_bytes", d.size_bytes}, {"free_bytes", d.free_bytes}});
    }
    return {{"cpus", f.cpus},           {"cpu_mhz", f.cpu_mhz},
            {"cpu_model", f.cpu_model}, {"memory_bytes", f.memory_bytes},
            {"disks", disks},           {"capabilities", f.capabilities}};
}

std::int64_t unix_ms(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// Read in small pieces: each of thousands of idle links keeps what its buffer grew to.
constexpr std::size_t k_read_chunk = 4 * 1024;
constexpr std::size_t k_kept_buffer = 16 * 1024;

}  // namespace

agent_session::agent_session(ws_stream ws, std::int64_t host_id, std::string serial,
                             fleet_context& ctx)
    : ws_(std::move(ws)),
      host_id_(host_id),
      serial_(std::move(serial)),
      ctx_(ctx),
      outbox_(ws_, ctx.cfg.send_queue_messages,
              [&gauge = ctx.metrics.send_queue_depth](double delta) { gauge.Increment(delta); }) {}

void agent_session::send(protocol::message body, std::optional<std::string> ref) {
    std::string type(protocol::type_of(body));
    std::string text = protocol::encode(protocol::make(std::move(body), std::move(ref)));
    asio::post(ws_.get_executor(),
               [self = shared_from_this(), type, text = std::move(text)]() mutable {
                   if (self->closing_) return;
                   if (!self->outbox_.push(std::move(text))) {
                       self->drop("slow_peer");
                       return;
                   }
                   self->ctx_.metrics.message("out", type);
               });
}

void agent_session::close(const std::string& reason) {
    asio::post(ws_.get_executor(), [self = shared_from_this(), reason] { self->drop(reason); });
}

void agent_session::finish(const std::string& reason, websocket::close_reason frame) {
    close_reason_ = reason;
    // Posted like send(), so messages queued before it still go out ahead of the close frame.
    asio::post(ws_.get_executor(), [self = shared_from_this(), frame = std::move(frame)] {
        self->outbox_.finish(frame);
    });
}

void agent_session::drop(const std::string& reason) {
    if (closing_) return;
    closing_ = true;
    if (close_reason_.empty()) close_reason_ = reason;
    // Closing the socket ends both loops at once, even when a write is stuck on a peer that
    // stopped reading.
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).socket().close(ignored);
    outbox_.close();
}

void agent_session::reply_error(std::string code, std::string message,
                                std::optional<std::string> ref) {
    send(protocol::error{std::move(code), std::move(message)}, std::move(ref));
}

asio::awaitable<void> agent_session::write_loop() {
    auto self = shared_from_this();
    const auto ec = co_await outbox_.run();
    if (ec) drop("write_failed");
}

asio::awaitable<void> agent_session::run() {
    auto self = shared_from_this();
    ws_.read_message_max(ctx_.cfg.max_frame_bytes +
                         128 * 1024);  // the read loop enforces the limit
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = std::chrono::seconds(10);
    timeouts.idle_timeout = ctx_.cfg.lease;  // Beast pings at half of it and gives up after it
    timeouts.keep_alive_pings = true;
    ws_.set_option(timeouts);
    asio::co_spawn(ws_.get_executor(), write_loop(), asio::detached);
    ctx_.metrics.connected_agents.Increment();
    log::info("agent connected", {{"host_id", host_id_}, {"serial", serial_}});

    beast::flat_buffer buffer;
    while (!closing_) {
        beast::error_code ec;
        // Read piecewise and enforce the limit ourselves: when Beast enforces it, TLS teardown
        // errors hide the reason and the agent never learns why it was cut off.
        bool too_large = false;
        do {
            co_await ws_.async_read_some(buffer, k_read_chunk,
                                         asio::redirect_error(use_awaitable, ec));
            too_large = !ec && buffer.size() > ctx_.cfg.max_frame_bytes;
        } while (!ec && !too_large && !ws_.is_message_done());
        if (too_large) {
            finish("frame_too_large",
                   websocket::close_reason(
                       websocket::close_code::too_big,
                       "message over " + std::to_string(ctx_.cfg.max_frame_bytes) + " bytes"));
            // Drain until the agent answers the close (or the idle timeout gives up on it).
            for (;;) {
                buffer.consume(buffer.size());
                co_await ws_.async_read_some(buffer, k_read_chunk,
                                             asio::redirect_error(use_awaitable, ec));
                if (ec) break;
            }
            drop("frame_too_large");
            break;
        }
        if (ec) {
            log::debug("agent link read ended", {{"host_id", host_id_}, {"error", ec.message()}});
            drop(ec == websocket::error::closed ? "closed_by_agent" : "read_failed");
            break;
        }
        const std::string text = beast::buffers_to_string(buffer.data());
        buffer.consume(buffer.size());
        // One large message must not pin its buffer for the life of the link.
        if (buffer.capacity() > k_kept_buffer) buffer.shrink_to_fit();
        auto decoded = protocol::decode(text);
        if (auto* failure = std::get_if<protocol::decode_failure>(&decoded)) {
            ctx_.metrics.message("in", "invalid");
            reply_error(std::string(protocol::to_string(failure->code)), failure->message,
                        failure->id);
            if (failure->code == protocol::error_code::unsupported_version) {
                // Let the error reach the agent, then close with a reason it can log.
                finish("unsupported_version",
                       websocket::close_reason(
                           websocket::close_code::policy_error,
                           "unsupported protocol version; this coordinator speaks v" +
                               std::to_string(protocol::k_version)));
            }
            continue;
        }
        const auto& env = std::get<protocol::envelope>(decoded);
        ctx_.metrics.message("in", env.type);
        ctx_.touched(host_id_);
        try {
            co_await handle(env);
        } catch (const std::exception& e) {
            log::error("agent message failed",
                       {{"host_id", host_id_}, {"type", env.type}, {"error", e.what()}});
            reply_error("internal_error", "the coordinator could not handle this message", env.id);
        }
    }

    ctx_.detach(host_id_, this);
    ctx_.metrics.connected_agents.Decrement();
    ctx_.metrics.disconnect(close_reason_);
    log::info("agent disconnected", {{"host_id", host_id_}, {"reason", close_reason_}});
    try {
        auto release = [id = host_id_, inst = ctx_.instance](pqxx::connection& c) {
            release_host(c, id, inst);
        };
        co_await ctx_.db.run(release);
    } catch (const std::exception& e) {
        log::warn("could not release host", {{"host_id", host_id_}, {"error", e.what()}});
    }
}

asio::awaitable<void> agent_session::handle(const protocol::envelope& env) {
    if (!greeted_ && !std::holds_alternative<protocol::hello>(env.body)) {
        reply_error("hello_required", "the first message on a link must be hello", env.id);
        co_return;
    }
    if (const auto* h = std::get_if<protocol::hello>(&env.body)) {
        co_await on_hello(env, *h);
    } else if (const auto* r = std::get_if<protocol::cert_renew>(&env.body)) {
        co_await on_cert_renew(env, *r);
    } else if (std::holds_alternative<protocol::command_ack>(env.body) ||
               std::holds_alternative<protocol::command_progress>(env.body) ||
               std::holds_alternative<protocol::command_result>(env.body)) {
        co_await on_command_reply(env);
    } else if (const auto* inv = std::get_if<protocol::inventory>(&env.body)) {
        co_await on_inventory(*inv);
    } else if (const auto* m = std::get_if<protocol::metrics_batch>(&env.body)) {
        const auto added = ctx_.samples.add(host_id_, *m);
        if (!added.stored) ctx_.metrics.samples_counted("dropped", m->vms.size() + 1);
        ctx_.metrics.samples_counted("refused", added.refused);
    } else if (const auto* err = std::get_if<protocol::error>(&env.body)) {
        log::warn("agent reported an error",
                  {{"host_id", host_id_}, {"code", err->code}, {"message", err->message}});
    } else if (std::holds_alternative<protocol::welcome>(env.body) ||
               std::holds_alternative<protocol::command>(env.body) ||
               std::holds_alternative<protocol::command_cancel>(env.body) ||
               std::holds_alternative<protocol::cert_issued>(env.body)) {
        reply_error("unexpected_type", env.type + " is sent by the coordinator, not to it", env.id);
    }
    // heartbeats and events count as liveness already.
}

asio::awaitable<void> agent_session::on_hello(const protocol::envelope& env,
                                              const protocol::hello& h) {
    hello_record hello{.facts_json = facts_json(h.facts).dump(),
                       .cpus = h.facts.cpus,
                       .memory_bytes = static_cast<std::int64_t>(h.facts.memory_bytes),
                       .agent_version = h.agent_version,
                       .metrics_listen = std::nullopt};
    if (h.metrics_listen) {
        const auto at = vpsfleet::config::parse_endpoint(*h.metrics_listen);
        if (at && at->port != 0 && !at->host.empty()) {
            hello.metrics_listen = at->to_string();
        } else {
            log::warn("hello names an invalid metrics address",
                      {{"host_id", host_id_}, {"metrics_listen", *h.metrics_listen}});
        }
    }
    auto record = [id = host_id_, hello, inst = ctx_.instance](pqxx::connection& c) {
        mark_online(c, id, hello, inst);
    };
    co_await ctx_.db.run(record);
    if (!greeted_) {
        // A second link for the same host replaces the first (the agent reconnected).
        // Looked up by host id: a storm of hellos must not walk every session each.
        if (const auto previous = ctx_.attach(host_id_, shared_from_this()))
            previous->close("replaced");
        greeted_ = true;
    }
    send(protocol::welcome{std::to_string(host_id_),
                           static_cast<std::uint32_t>(ctx_.cfg.heartbeat.count()),
                           static_cast<std::uint32_t>(ctx_.cfg.lease.count()), build::version},
         env.id);
    log::info(
        "host online",
        {{"host_id", host_id_}, {"host_name", h.host_name}, {"agent_version", h.agent_version}});
    // A new link: whatever was sent on the old one may have been lost, so send it again; the
    // agent's journal answers what it already ran.
    co_await send_open_commands(true);
}

asio::awaitable<void> agent_session::on_inventory(const protocol::inventory& inv) {
    nlohmann::json domains = nlohmann::json::array();
    for (const auto& d : inv.domains) {
        domains.push_back({{"uuid", d.uuid},
                           {"name", d.name},
                           {"state", d.state},
                           {"config_hash", d.config_hash}});
    }
    auto record = [id = host_id_, text = domains.dump()](pqxx::connection& c) {
        auto change = record_inventory(c, id, text);
        return std::make_pair(change, reconcile_host(c, id));
    };
    const auto [change, reconciled] = co_await ctx_.db.run(record);
    report(reconciled, host_id_, ctx_.metrics);
    ctx_.metrics.inventory(change.added, change.removed, change.changed);
    if (change.added + change.removed + change.changed > 0) {
        log::info("host inventory changed", {{"host_id", host_id_},
                                             {"domains", inv.domains.size()},
                                             {"added", change.added},
                                             {"removed", change.removed},
                                             {"changed", change.changed}});
    }
}

void agent_session::dispatch_commands(bool include_in_flight) {
    asio::post(ws_.get_executor(), [self = shared_from_this(), include_in_flight] {
        if (!self->greeted_ || self->closing_) return;
        asio::co_spawn(self->ws_.get_executor(), self->send_open_commands(include_in_flight),
                       asio::detached);
    });
}

asio::awaitable<void> agent_session::send_open_commands(bool include_in_flight) {
    auto self = shared_from_this();
    try {
        auto take = [id = host_id_, include_in_flight](pqxx::connection& c) {
            return take_commands_to_send(c, id, include_in_flight);
        };
        auto commands = co_await ctx_.db.run(take);
        for (auto& c : commands) {
            log::info("command sent",
                      {{"host_id", host_id_}, {"command_id", c.command_id}, {"kind", c.kind}});
            send(std::move(c));
        }
    } catch (const std::exception& e) {
        log::warn("cannot send commands", {{"host_id", host_id_}, {"error", e.what()}});
    }
}

asio::awaitable<void> agent_session::on_command_reply(const protocol::envelope& env) {
    auto record = [id = host_id_,
                   body = env.body](pqxx::connection& c) -> std::optional<recorded_result> {
        if (const auto* ack = std::get_if<protocol::command_ack>(&body)) {
            mark_acked(c, id, ack->command_id);
        } else if (const auto* p = std::get_if<protocol::command_progress>(&body)) {
            record_progress(c, id, *p);
        } else if (const auto* r = std::get_if<protocol::command_result>(&body)) {
            return record_result(c, id, *r);
        }
        return std::nullopt;
    };
    if (auto done = co_await ctx_.db.run(record)) {
        const bool ok = std::get<protocol::command_result>(env.body).ok;
        ctx_.metrics.command_done(done->kind, ok, done->since_submitted.count());
    }
}

asio::awaitable<void> agent_session::on_cert_renew(const protocol::envelope& env,
                                                   const protocol::cert_renew& r) {
    pki::issued_certificate cert;
    try {
        cert = pki::sign_client_csr(ctx_.ca.authority, r.csr_pem, std::to_string(host_id_),
                                    ctx_.cfg.certificate_lifetime);
    } catch (const pki::pki_error& e) {
        reply_error("invalid_csr", e.what(), env.id);
        co_return;
    }
    auto record = [id = host_id_, cert](pqxx::connection& c) {
        pqxx::work tx(c);
        record_certificate(tx, id, cert);
        tx.commit();
    };
    co_await ctx_.db.run(record);
    send(protocol::cert_issued{cert.certificate_pem, ctx_.ca.authority.certificate_pem,
                               unix_ms(cert.not_after)},
         env.id);
    log::info("agent certificate renewed", {{"host_id", host_id_}, {"serial", cert.serial_hex}});
}

}  // namespace vpsfleet::fleet
