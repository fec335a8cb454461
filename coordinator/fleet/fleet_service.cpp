#include "coordinator/fleet/fleet_service.hpp"

#include "common/log.hpp"
#include "common/secrets.hpp"
#include "coordinator/fleet/agent_session.hpp"
#include "coordinator/fleet/commands.hpp"
#include "coordinator/fleet/reconciliation.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <unistd.h>

namespace vpsfleet::fleet {

namespace asio = boost::asio;

std::string make_instance_id() {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    return std::string(host) + ":" + std::to_string(getpid()) + ":" + secrets::random_token("", 6);
}

fleet_service::fleet_service(asio::io_context& io, const coordinator::fleet_config& cfg,
                             store::database& db, prometheus::Registry& registry)
    : io_(io),
      metrics_(registry),
      ctx_(cfg, db, load_or_create_ca(cfg), metrics_, make_instance_id()),
      notifications_(db.pool().conninfo(), {k_commands_channel},
                     [this](const std::string&, const std::string& payload) {
                         // Empty payload: the listener (re)connected and may have missed some.
                         for (const auto& session : ctx_.sessions()) {
                             if (payload.empty() || payload == std::to_string(session->host_id())) {
                                 session->dispatch_commands(false);
                             }
                         }
                     }),
      timer_(io),
      reconcile_timer_(io),
      samples_timer_(io) {}

void fleet_service::start() {
    listener_ = std::make_shared<fleet_listener>(io_, ctx_);
    listener_->listen();
    listener_->start();
    asio::co_spawn(io_, liveness_loop(), asio::detached);
    asio::co_spawn(io_, reconcile_loop(), asio::detached);
    asio::co_spawn(io_, samples_loop(), asio::detached);
    notifications_.start();
}

void fleet_service::stop() {
    stopping_ = true;
    timer_.cancel();
    reconcile_timer_.cancel();
    samples_timer_.cancel();
    notifications_.stop();
    if (listener_) listener_->stop();
}

asio::awaitable<void> fleet_service::liveness_loop() {
    const auto lease = ctx_.cfg.lease;
    while (!stopping_) {
        try {
            const auto touched = ctx_.take_touched();
            std::vector<std::int64_t> hosts;
            hosts.reserve(touched.size());
            for (const auto& [host, since] : touched) hosts.push_back(host);
            auto check = [hosts, lease](pqxx::connection& c) {
                touch_hosts(c, hosts);
                expire_commands(c);
                return std::make_pair(expire_leases(c, lease), load_access_snapshot(c));
            };
            auto [changes, access] = co_await ctx_.db.run(check);
            const auto persisted = std::chrono::steady_clock::now();
            for (const auto& [host, since] : touched) {
                ctx_.metrics.heartbeat_lag.Observe(
                    std::chrono::duration<double>(persisted - since).count());
            }
            for (const auto& change : changes) {
                log::warn("host lease expired",
                          {{"host_id", change.host_id}, {"state", change.state}});
            }
            ctx_.set_access(std::move(access));
            for (const auto& session : ctx_.sessions()) {
                if (ctx_.refused(session->host_id(), session->serial()))
                    session->close("revoked_or_disabled");
            }
        } catch (const std::exception& e) {
            log::warn("fleet liveness check failed", {{"error", e.what()}});
        }
        timer_.expires_after(ctx_.cfg.heartbeat);
        boost::system::error_code ec;
        co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

asio::awaitable<void> fleet_service::reconcile_loop() {
    while (!stopping_) {
        reconcile_timer_.expires_after(ctx_.cfg.reconcile_interval);
        boost::system::error_code ec;
        co_await reconcile_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        if (stopping_) break;
        for (const auto& session : ctx_.sessions()) {
            const auto host = session->host_id();
            try {
                auto reconcile = [host](pqxx::connection& c) { return reconcile_host(c, host); };
                const auto result = co_await ctx_.db.run(reconcile);
                report(result, host, ctx_.metrics);
            } catch (const std::exception& e) {
                log::warn("reconciliation failed", {{"host_id", host}, {"error", e.what()}});
            }
        }
    }
}

asio::awaitable<void> fleet_service::samples_loop() {
    auto next_prune = std::chrono::steady_clock::now();
    while (!stopping_) {
        samples_timer_.expires_after(ctx_.cfg.samples_flush);
        boost::system::error_code ec;
        co_await samples_timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        // One last write on the way out, so a clean stop loses nothing.
        auto rows = std::make_shared<sample_rows>(ctx_.samples.take());
        const std::size_t n = rows->size();
        if (n > 0) {
            try {
                auto write = [rows](pqxx::connection& c) { write_samples(c, *rows); };
                co_await ctx_.db.run(write);
                ctx_.metrics.samples_counted("stored", n);
            } catch (const std::exception& e) {
                ctx_.metrics.samples_counted("failed", n);
                log::warn("usage samples not stored", {{"samples", n}, {"error", e.what()}});
            }
        }
        if (stopping_ || std::chrono::steady_clock::now() < next_prune) continue;
        next_prune = std::chrono::steady_clock::now() + std::chrono::minutes(10);
        try {
            const auto retention = ctx_.cfg.samples_retention;
            auto prune = [retention](pqxx::connection& c) {
                return prune_samples(c, retention, 100'000);
            };
            const auto deleted = co_await ctx_.db.run(prune);
            if (deleted > 0) log::info("old usage samples pruned", {{"rows", deleted}});
        } catch (const std::exception& e) {
            log::warn("usage samples not pruned", {{"error", e.what()}});
        }
    }
}

}  // namespace vpsfleet::fleet
