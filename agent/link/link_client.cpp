#include "agent/link/link_client.hpp"

#include "agent/link/command_runner.hpp"
#include "agent/link/tls_client.hpp"
#include "common/build_info.hpp"
#include "common/log.hpp"
#include "common/pki.hpp"
#include "common/ws_outbox.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace vpsfleet::agent::link {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::use_awaitable;
using ws_stream = websocket::stream<beast::ssl_stream<beast::tcp_stream>>;

namespace {

// Two thirds into the lifetime the certificate was issued with (not counting the clock-skew
// back-dating).
std::chrono::system_clock::time_point renewal_time(const std::string& certificate_pem) {
    const auto info = pki::inspect(certificate_pem);
    const auto issued_at = info.not_before + pki::k_clock_skew;
    return issued_at + (info.not_after - issued_at) * 2 / 3;
}

}  // namespace

struct link_client::connection {
    connection(asio::any_io_executor ex, std::shared_ptr<asio::ssl::context> context,
               std::size_t queue, prometheus::Gauge& depth)
        : tls(std::move(context)),
          ws(ex, *tls),
          outbox(ws, queue, [&depth](double delta) { depth.Increment(delta); }),
          heartbeat(ex) {}
    std::shared_ptr<asio::ssl::context> tls;
    ws_stream ws;
    ws_outbox<ws_stream> outbox;
    asio::steady_timer heartbeat;
    std::chrono::milliseconds heartbeat_every{5000};
    std::uint64_t seq = 0;
    bool closing = false;
    bool said_hello = false;  // events may follow only once hello went out
    std::string close_reason;
    credentials creds;
    std::string pending_key_pem;         // the key of an outstanding cert.renew
    protocol::inventory last_inventory;  // what the coordinator last heard
    std::int64_t last_usage_at = 0;      // the `at` of the last usage sample sent
    std::chrono::steady_clock::time_point usage_due{};
    std::chrono::system_clock::time_point renew_at;  // of creds.certificate_pem

    // Worked out once per certificate, not at every heartbeat.
    void use_certificate(std::string key_pem, std::string certificate_pem) {
        use_certificate(std::move(key_pem), std::move(certificate_pem), {});
    }
    void use_certificate(std::string key_pem, std::string certificate_pem,
                         std::optional<std::chrono::system_clock::time_point> known_renew_at) {
        renew_at = known_renew_at ? *known_renew_at : renewal_time(certificate_pem);
        creds.private_key_pem = std::move(key_pem);
        creds.certificate_pem = std::move(certificate_pem);
    }

    void drop(std::string reason) {
        if (closing) return;
        closing = true;
        close_reason = std::move(reason);
        beast::error_code ignored;
        beast::get_lowest_layer(ws).socket().shutdown(asio::ip::tcp::socket::shutdown_both,
                                                      ignored);
        beast::get_lowest_layer(ws).socket().close(ignored);
        outbox.close();
        heartbeat.cancel();
    }
};

namespace {

protocol::hello make_hello(const agent_config& cfg, const std::optional<host_snapshot>& snap) {
    protocol::hello h;
    h.agent_version = build::version;
    h.driver = cfg.driver;
    if (snap) {
        h.host_name = cfg.host_name.value_or(snap->facts.hostname);
        h.facts.cpus = snap->facts.cpus;
        h.facts.cpu_mhz = snap->facts.cpu_mhz;
        h.facts.cpu_model = snap->facts.cpu_model;
        h.facts.memory_bytes = snap->facts.memory_bytes;
    } else {
        h.host_name = cfg.host_name.value_or("");
    }
    h.facts.capabilities = {"libvirt"};
    h.metrics_listen = cfg.metrics_listen.to_string();
    return h;
}

protocol::inventory make_inventory(const std::optional<host_snapshot>& snap) {
    protocol::inventory inv;
    if (!snap) return inv;
    for (const auto& d : snap->domains)
        inv.domains.push_back({d.uuid, d.name, d.state, d.config_hash});
    return inv;
}

}  // namespace

link_client::link_client(asio::io_context& io, const agent_config& cfg, host_collector& collector,
                         prometheus::Registry& registry)
    : io_(io),
      cfg_(cfg),
      collector_(collector),
      strand_(asio::make_strand(io)),
      backoff_timer_(strand_),
      connected_(prometheus::BuildGauge()
                     .Name("vpsfleet_agent_link_connected")
                     .Help("1 while the link to the coordinator is up and welcomed")
                     .Register(registry)
                     .Add({})),
      attempts_(prometheus::BuildCounter()
                    .Name("vpsfleet_agent_link_connect_attempts_total")
                    .Help("Attempts to open the link, by outcome")
                    .Register(registry)),
      messages_(prometheus::BuildCounter()
                    .Name("vpsfleet_agent_link_messages_total")
                    .Help("Fleet protocol messages by direction (in, out) and type")
                    .Register(registry)),
      queue_depth_(prometheus::BuildGauge()
                       .Name("vpsfleet_agent_link_send_queue_messages")
                       .Help("Messages queued for the coordinator and not yet written")
                       .Register(registry)
                       .Add({})),
      commands_(
          prometheus::BuildCounter()
              .Name("vpsfleet_agent_commands_total")
              .Help(
                  "Commands received, by kind and outcome (ok, failed, replayed from the journal)")
              .Register(registry)) {}

void link_client::start() {
    // Lifecycle events from the hypervisor go to the coordinator as they happen.
    collector_.on_event([weak = weak_from_this()](const driver::vm_event& e) {
        auto self = weak.lock();
        if (!self) return;
        asio::post(self->strand_, [self, e] {
            if (!self->current_ || self->current_->closing || !self->current_->said_hello) return;
            self->send(*self->current_,
                       protocol::event{
                           e.uuid, e.event, e.state,
                           e.detail.empty() ? std::nullopt : std::optional<std::string>(e.detail)});
        });
    });
    asio::co_spawn(
        strand_, [self = shared_from_this()] { return self->run(); }, asio::detached);
}

void link_client::stop() {
    stopping_ = true;
    collector_.on_event(nullptr);
    asio::post(strand_, [self = shared_from_this()] {
        self->backoff_timer_.cancel();
        if (self->current_) self->current_->drop("agent_stopping");
    });
}

std::chrono::milliseconds link_client::next_backoff() {
    backoff_ = backoff_.count() == 0 ? std::chrono::milliseconds(250)
                                     : std::min(backoff_ * 2, cfg_.reconnect_cap);
    // Full jitter, so a fleet that lost its coordinator does not redial in lockstep.
    std::uniform_int_distribution<long long> pick(backoff_.count() / 2, backoff_.count());
    return std::chrono::milliseconds(pick(random_));
}

asio::awaitable<void> link_client::run() {
    bool reported_unenrolled = false;
    while (!stopping_) {
        std::optional<credentials> creds;
        try {
            creds = load_credentials(cfg_.state_dir);
        } catch (const std::exception& e) {
            log::error("cannot read enrollment",
                       {{"state_dir", cfg_.state_dir}, {"error", e.what()}});
        }
        if (!creds) {
            if (!reported_unenrolled) {
                log::warn("not enrolled: run `vpsfleet-agent enroll` to join a coordinator",
                          {{"state_dir", cfg_.state_dir}});
                reported_unenrolled = true;
            }
        } else {
            try {
                co_await serve(*creds);
                attempts_.Add({{"outcome", "closed"}}).Increment();
            } catch (const std::exception& e) {
                attempts_.Add({{"outcome", "failed"}}).Increment();
                log::warn("link failed",
                          {{"coordinator", creds->coordinator}, {"error", e.what()}});
            }
            connected_.Set(0);
        }
        if (stopping_) break;
        backoff_timer_.expires_after(next_backoff());
        beast::error_code ec;
        co_await backoff_timer_.async_wait(asio::redirect_error(use_awaitable, ec));
    }
}

asio::awaitable<void> link_client::serve(const credentials& creds) {
    const auto url = parse_fleet_url(creds.coordinator);
    if (!url)
        throw std::runtime_error("bad coordinator address in enrollment.json: " +
                                 creds.coordinator);
    // Parsing the PEMs into a TLS context is most of a reconnect's CPU (OpenSSL 3's decoders):
    // keep the context while the credentials stay the same.
    std::string identity = creds.ca_pem + creds.private_key_pem + creds.certificate_pem;
    if (!tls_ || identity != tls_identity_) {
        tls_ = std::make_shared<asio::ssl::context>(
            make_client_context(creds.ca_pem, creds.private_key_pem, creds.certificate_pem));
        tls_renew_at_ = renewal_time(creds.certificate_pem);
        tls_identity_ = std::move(identity);
    }
    auto conn = std::make_shared<connection>(strand_, tls_, cfg_.send_queue_messages, queue_depth_);
    conn->creds = creds;
    conn->use_certificate(creds.private_key_pem, creds.certificate_pem, tls_renew_at_);
    current_ = conn;
    struct forget {
        link_client* self;
        ~forget() { self->current_.reset(); }
    } forget_on_exit{this};

    asio::ip::tcp::resolver resolver(strand_);
    expect_server(conn->ws.next_layer().native_handle(), url->host);
    beast::get_lowest_layer(conn->ws).expires_after(std::chrono::seconds(10));
    // Named, not temporaries inside co_await: GCC 12 frees such temporaries twice.
    const std::string port = std::to_string(url->port);
    const std::string path = url->path.empty() ? "/fleet/v1" : url->path;
    const auto endpoints = co_await resolver.async_resolve(url->host, port, use_awaitable);
    co_await beast::get_lowest_layer(conn->ws).async_connect(endpoints, use_awaitable);
    co_await conn->ws.next_layer().async_handshake(asio::ssl::stream_base::client, use_awaitable);
    co_await conn->ws.async_handshake(url->host, path, use_awaitable);
    beast::get_lowest_layer(conn->ws).expires_never();
    conn->ws.read_message_max(cfg_.max_frame_bytes);
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = std::chrono::seconds(10);
    timeouts.idle_timeout = std::chrono::seconds(30);
    timeouts.keep_alive_pings = true;
    conn->ws.set_option(timeouts);
    attempts_.Add({{"outcome", "connected"}}).Increment();

    if (!journal_) journal_ = std::make_unique<command_journal>(cfg_.state_dir + "/journal.json");
    // The hello carries the host's facts: give the collector's first sample a moment to land.
    auto snapshot = collector_.latest();
    for (int i = 0; i < 200 && !snapshot && !conn->closing; ++i) {
        conn->heartbeat.expires_after(std::chrono::milliseconds(50));
        beast::error_code ignored;
        co_await conn->heartbeat.async_wait(asio::redirect_error(use_awaitable, ignored));
        snapshot = collector_.latest();
    }
    auto hello = make_hello(cfg_, snapshot);
    hello.journal = journal_->ids();
    send(*conn, std::move(hello));
    conn->said_hello = true;
    conn->last_inventory = make_inventory(snapshot);
    send(*conn, conn->last_inventory);
    asio::co_spawn(strand_, write_loop(conn), asio::detached);
    asio::co_spawn(strand_, heartbeat_loop(conn), asio::detached);

    beast::flat_buffer buffer;
    while (!conn->closing) {
        beast::error_code ec;
        co_await conn->ws.async_read(buffer, asio::redirect_error(use_awaitable, ec));
        if (ec) {
            conn->drop(ec == websocket::error::closed ? "closed_by_coordinator" : ec.message());
            break;
        }
        const std::string text = beast::buffers_to_string(buffer.data());
        buffer.consume(buffer.size());
        auto decoded = protocol::decode(text);
        if (auto* failure = std::get_if<protocol::decode_failure>(&decoded)) {
            messages_.Add({{"direction", "in"}, {"type", "invalid"}}).Increment();
            send(*conn,
                 protocol::error{std::string(protocol::to_string(failure->code)), failure->message},
                 failure->id);
            continue;
        }
        const auto& env = std::get<protocol::envelope>(decoded);
        messages_.Add({{"direction", "in"}, {"type", env.type}}).Increment();
        handle(conn, env);
    }
    log::info("link closed", {{"reason", conn->close_reason}});
}

void link_client::send(connection& conn, protocol::message body, std::optional<std::string> ref) {
    const std::string type(protocol::type_of(body));
    if (!conn.outbox.push(protocol::encode(protocol::make(std::move(body), std::move(ref))))) {
        conn.drop("send_queue_full");
        return;
    }
    messages_.Add({{"direction", "out"}, {"type", type}}).Increment();
}

void link_client::handle(const std::shared_ptr<connection>& conn_ptr,
                         const protocol::envelope& env) {
    connection& conn = *conn_ptr;
    if (const auto* w = std::get_if<protocol::welcome>(&env.body)) {
        conn.heartbeat_every =
            std::chrono::milliseconds(std::max<std::uint32_t>(w->heartbeat_ms, 10));
        conn.heartbeat.cancel();  // re-arm with the coordinator's interval
        backoff_ = std::chrono::milliseconds(0);
        connected_.Set(1);
        log::info("link up", {{"coordinator", conn.creds.coordinator},
                              {"host_id", w->host_id},
                              {"heartbeat_ms", w->heartbeat_ms},
                              {"lease_ms", w->lease_ms}});
    } else if (const auto* c = std::get_if<protocol::command>(&env.body)) {
        asio::co_spawn(strand_, execute(conn_ptr, *c, env.id), asio::detached);
    } else if (const auto* issued = std::get_if<protocol::cert_issued>(&env.body)) {
        if (conn.pending_key_pem.empty()) return;
        save_renewed(cfg_.state_dir, conn.pending_key_pem, issued->certificate_pem);
        conn.use_certificate(std::exchange(conn.pending_key_pem, {}), issued->certificate_pem);
        log::info("certificate renewed", {{"not_after_ms", issued->not_after}});
    } else if (const auto* err = std::get_if<protocol::error>(&env.body)) {
        log::warn("coordinator reported an error",
                  {{"code", err->code}, {"message", err->message}});
    }
}

void link_client::maybe_renew(connection& conn) {
    if (!conn.pending_key_pem.empty()) return;
    if (std::chrono::system_clock::now() < conn.renew_at) return;
    const auto key = pki::generate_p256_key();
    conn.pending_key_pem = key.private_key_pem;
    send(conn, protocol::cert_renew{pki::create_csr(key.private_key_pem, conn.creds.host_id)});
    log::info("renewing certificate", {{"host_id", conn.creds.host_id}});
}

asio::awaitable<void> link_client::execute(std::shared_ptr<connection> conn, protocol::command cmd,
                                           std::string ref) {
    send(*conn, protocol::command_ack{cmd.command_id}, ref);
    if (auto done = journal_->find(cmd.command_id)) {
        // Delivered again (the result was lost with a link): answer, do not run it twice.
        commands_.Add({{"kind", cmd.kind}, {"outcome", "replayed"}}).Increment();
        log::info("command replayed from the journal",
                  {{"command_id", cmd.command_id}, {"kind", cmd.kind}});
        send(*conn, std::move(*done), ref);
        co_return;
    }
    if (!running_.insert(cmd.command_id).second)
        co_return;  // already running; its result will follow
    auto result = co_await run_command(collector_, cmd);
    running_.erase(cmd.command_id);
    try {
        journal_->record(result);
    } catch (const std::exception& e) {
        log::error("cannot write the command journal", {{"error", e.what()}});
    }
    commands_.Add({{"kind", cmd.kind}, {"outcome", result.ok ? "ok" : "failed"}}).Increment();
    log::info("command finished",
              {{"command_id", cmd.command_id}, {"kind", cmd.kind}, {"ok", result.ok}});
    // The link may have been replaced meanwhile; the current one gets the result.
    if (current_ && !current_->closing) send(*current_, std::move(result), ref);
}

asio::awaitable<void> link_client::write_loop(std::shared_ptr<connection> conn) {
    const auto ec = co_await conn->outbox.run();
    if (ec) conn->drop("write_failed");
}

asio::awaitable<void> link_client::heartbeat_loop(std::shared_ptr<connection> conn) {
    while (!conn->closing) {
        conn->heartbeat.expires_after(conn->heartbeat_every);
        beast::error_code ec;
        co_await conn->heartbeat.async_wait(asio::redirect_error(use_awaitable, ec));
        if (conn->closing) break;
        if (ec) continue;  // re-armed after welcome
        send(*conn, protocol::heartbeat{++conn->seq});
        // Guests started, stopped, defined or removed since the last report: tell the coordinator.
        if (auto inventory = make_inventory(collector_.latest());
            !(inventory == conn->last_inventory)) {
            conn->last_inventory = inventory;
            send(*conn, std::move(inventory));
        }
        // Usage samples ride the heartbeat's timer: due every collector.push_interval.
        if (std::chrono::steady_clock::now() >= conn->usage_due) {
            if (auto usage = collector_.latest_usage(); usage && usage->at > conn->last_usage_at) {
                conn->last_usage_at = usage->at;
                conn->usage_due = std::chrono::steady_clock::now() + cfg_.push_interval;
                send(*conn, std::move(*usage));
            }
        }
        try {
            maybe_renew(*conn);
        } catch (const std::exception& e) {
            log::warn("certificate renewal failed", {{"error", e.what()}});
        }
    }
}

}  // namespace vpsfleet::agent::link
