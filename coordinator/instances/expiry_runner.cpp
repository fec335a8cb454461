#include "coordinator/instances/expiry_runner.hpp"

#include "common/log.hpp"
#include "coordinator/billing/autorecharge.hpp"
#include "coordinator/billing/billing_settings.hpp"
#include "coordinator/billing/card_refunds.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace vpsfleet::instances {

namespace asio = boost::asio;

namespace {

// After a refused automatic top-up the account waits this long before the next try.
constexpr std::chrono::seconds k_autorecharge_retry = std::chrono::hours(6);
// Stripe keeps idempotency keys for at least 24 hours; an unanswered refund is asked again with
// its key only well within that, so a forgotten key can never make a second refund.
constexpr std::chrono::hours k_refund_key_window{23};

}  // namespace

expiry_runner::expiry_runner(asio::io_context& io, store::database& db,
                             const coordinator::billing_config& cfg, std::string public_url,
                             prometheus::Registry& registry, billing::payment_provider* payments)
    : db_(db),
      payments_(payments),
      interval_(cfg.sweep_interval),
      settings_{.prepaid = cfg.prepaid,
                .currency = cfg.currency,
                .renew_before = cfg.renew_before,
                .notify_before = cfg.notify_before,
                .grace = cfg.grace,
                .public_url = std::move(public_url),
                .taxes = billing::taxes_of(cfg)},
      timer_(io),
      steps_(prometheus::BuildCounter()
                 .Name("vpsfleet_coordinator_billing_sweep_total")
                 .Help("VMs the prepaid expiry sweep renewed, failed to renew, warned, expired "
                       "(stopped) and deleted, the accounts it auto-recharged or failed to, and "
                       "the unanswered card refunds it settled or returned as credits")
                 .Register(registry)) {}

void expiry_runner::start() { asio::co_spawn(timer_.get_executor(), loop(), asio::detached); }

void expiry_runner::stop() {
    stopping_ = true;
    timer_.cancel();
}

asio::awaitable<void> expiry_runner::loop() {
    while (!stopping_) {
        try {
            if (payments_) {
                auto recharge = [this](pqxx::connection& conn) {
                    return billing::run_autorecharge(conn, *payments_, k_autorecharge_retry);
                };
                const billing::autorecharge_report a = co_await db_.run(recharge);
                steps_.Add({{"step", "autorecharged"}}).Increment(a.charged);
                steps_.Add({{"step", "autorecharge_failed"}}).Increment(a.failed);
                auto unanswered = [this](pqxx::connection& conn) {
                    return billing::settle_unanswered_card_refunds(conn, *payments_,
                                                                   k_refund_key_window);
                };
                const billing::unanswered_refunds_report u = co_await db_.run(unanswered);
                steps_.Add({{"step", "card_refund_settled"}}).Increment(u.issued);
                steps_.Add({{"step", "card_refund_returned"}}).Increment(u.returned);
            }
            const expiry_settings settings = settings_;
            auto sweep = [settings](pqxx::connection& conn) {
                return sweep_expiry(conn, settings, std::chrono::system_clock::now());
            };
            const expiry_report r = co_await db_.run(sweep);
            steps_.Add({{"step", "renewed"}}).Increment(r.renewed);
            steps_.Add({{"step", "renew_failed"}}).Increment(r.renew_failed);
            steps_.Add({{"step", "notified"}}).Increment(r.notified);
            steps_.Add({{"step", "expired"}}).Increment(r.expired);
            steps_.Add({{"step", "deleted"}}).Increment(r.deleted);
            steps_.Add({{"step", "balance_alert"}}).Increment(r.alerts);
            steps_.Add({{"step", "suspended_stopped"}}).Increment(r.suspended_stopped);
            if (r.renewed + r.notified + r.expired + r.deleted + r.suspended_stopped > 0) {
                log::info("billing sweep", {{"renewed", r.renewed},
                                            {"renew_failed", r.renew_failed},
                                            {"notified", r.notified},
                                            {"expired", r.expired},
                                            {"deleted", r.deleted},
                                            {"suspended_stopped", r.suspended_stopped}});
            }
        } catch (const std::exception& e) {
            log::warn("billing sweep failed", {{"error", e.what()}});
        }
        timer_.expires_after(interval_);
        boost::system::error_code ec;
        co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

}  // namespace vpsfleet::instances
