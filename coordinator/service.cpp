#include "coordinator/service.hpp"

#include "common/daemon.hpp"
#include "common/log.hpp"
#include "common/pki.hpp"
#include "coordinator/api/admin/app_routes.hpp"
#include "coordinator/api/admin/business_routes.hpp"
#include "coordinator/api/admin/company_routes.hpp"
#include "coordinator/api/admin/custom_pricing_routes.hpp"
#include "coordinator/api/admin/fleet_routes.hpp"
#include "coordinator/api/admin/ipam_routes.hpp"
#include "coordinator/api/admin/job_routes.hpp"
#include "coordinator/api/admin/limit_request_routes.hpp"
#include "coordinator/api/admin/project_ip_range_routes.hpp"
#include "coordinator/api/admin/prometheus_routes.hpp"
#include "coordinator/api/admin/promo_code_routes.hpp"
#include "coordinator/api/admin/role_routes.hpp"
#include "coordinator/api/customer/account_keys_routes.hpp"
#include "coordinator/api/customer/auth_routes.hpp"
#include "coordinator/api/customer/billing_details_routes.hpp"
#include "coordinator/api/customer/billing_routes.hpp"
#include "coordinator/api/customer/catalog_routes.hpp"
#include "coordinator/api/customer/firewall_routes.hpp"
#include "coordinator/api/customer/instance_change_routes.hpp"
#include "coordinator/api/customer/instance_extra_routes.hpp"
#include "coordinator/api/customer/instance_ip_routes.hpp"
#include "coordinator/api/customer/instance_metrics_routes.hpp"
#include "coordinator/api/customer/instance_routes.hpp"
#include "coordinator/api/customer/ip_range_routes.hpp"
#include "coordinator/api/customer/job_routes.hpp"
#include "coordinator/api/customer/limit_routes.hpp"
#include "coordinator/api/customer/member_routes.hpp"
#include "coordinator/api/customer/payment_routes.hpp"
#include "coordinator/api/customer/project_routes.hpp"
#include "coordinator/api/customer/promo_routes.hpp"
#include "coordinator/api/customer/template_routes.hpp"
#include "coordinator/billing/stripe_client.hpp"
#include "coordinator/firewall/firewall_job.hpp"
#include "coordinator/instances/instance_changes.hpp"
#include "coordinator/instances/instance_jobs.hpp"
#include "coordinator/instances/refund_job.hpp"
#include "coordinator/instances/template_jobs.hpp"
#include "coordinator/ipam/ip_jobs.hpp"
#include "coordinator/store/migrations.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

namespace vpsfleet::coordinator {

namespace asio = boost::asio;
using asio::use_awaitable;
using json = nlohmann::json;

service::service(asio::io_context& io, coordinator_config cfg)
    : io_(io),
      cfg_(std::move(cfg)),
      db_(cfg_.database),
      http_metrics_(registry_, "vpsfleet_coordinator"),
      pool_gauges_(
          prometheus::BuildGauge()
              .Name("vpsfleet_coordinator_db_pool_connections")
              .Help("PostgreSQL pool connections by state (capacity, open, in_use, waiting)")
              .Register(registry_)),
      db_up_(prometheus::BuildGauge()
                 .Name("vpsfleet_coordinator_db_up")
                 .Help("1 when the last readiness check reached PostgreSQL with migrations applied")
                 .Register(registry_)
                 .Add({})),
      db_connect_failures_(prometheus::BuildCounter()
                               .Name("vpsfleet_coordinator_db_connect_failures_total")
                               .Help("Attempts to open a PostgreSQL connection that failed")
                               .Register(registry_)
                               .Add({})),
      jobs_finished_(
          prometheus::BuildCounter()
              .Name("vpsfleet_coordinator_jobs_total")
              .Help("Job attempts this coordinator's workers finished, by outcome (completed, "
                    "failed, cancelled, retried)")
              .Register(registry_)),
      api_services_{db_, cfg_.api, keys_, cfg_.billing, cfg_.limits},
      gateway_(db_, cfg_.api, keys_, http_metrics_),
      fleet_(io, cfg_.fleet, db_, registry_),
      retry_timer_(io) {
    metrics::register_build_info(registry_, "vpsfleet_coordinator");
    jobs::runner_options job_options;
    job_options.conninfo = db_.pool().conninfo();
    job_options.workers = cfg_.jobs.workers;
    job_options.lease_time = cfg_.jobs.lease;
    jobs_ = std::make_unique<jobs::job_runner>(job_options);
    job_watch_ = std::make_unique<jobs::job_watch>(db_.pool().conninfo());
    api_services_.job_watch = job_watch_.get();
    if (const auto& stripe = cfg_.billing.stripe) {
        billing::stripe_options options;
        options.api_base = stripe->api_base;
        options.secret_key = stripe->secret_key;
        options.timeout = stripe->timeout;
        if (stripe->ca_file) options.ca_pem = pki::read_file(*stripe->ca_file);
        payments_ = billing::make_stripe_provider(options);
        api_services_.payments = payments_.get();
    }
    add_job_handlers();
    if (cfg_.mail) mail_ = std::make_unique<mail::mail_sender>(db_.pool().conninfo(), *cfg_.mail);
    expiry_ = std::make_unique<instances::expiry_runner>(io, db_, cfg_.billing, cfg_.api.public_url,
                                                         registry_, payments_.get());
    add_routes();
}

service::~service() { db_.stop(); }

void service::add_routes() {
    using verb = boost::beast::http::verb;
    auto& router_ = gateway_.plain();
    router_.add(verb::get, "/healthz",
                [](http::request&, const http::path_params&) -> asio::awaitable<http::response> {
                    co_return http::json_response(http::status::ok, R"({"status":"ok"})");
                });
    router_.add(verb::get, "/readyz",
                [this](http::request&, const http::path_params&) { return readyz(); });
    router_.add(
        verb::get, "/metrics",
        [this](http::request&, const http::path_params&) -> asio::awaitable<http::response> {
            co_return co_await metrics();
        });
    api::customer::add_auth_routes(gateway_.customer(), api_services_);
    api::customer::add_account_routes(gateway_.customer(), api_services_);
    api::customer::add_account_key_routes(gateway_.customer(), api_services_);
    api::customer::add_limit_routes(gateway_.customer(), api_services_);
    api::customer::add_project_routes(gateway_.customer(), api_services_);
    api::customer::add_member_routes(gateway_.customer(), api_services_);
    api::customer::add_catalog_routes(gateway_.customer(), api_services_);
    api::customer::add_instance_routes(gateway_.customer(), api_services_);
    api::customer::add_template_routes(gateway_.customer(), api_services_);
    api::customer::add_instance_extra_routes(gateway_.customer(), api_services_);
    api::customer::add_instance_change_routes(gateway_.customer(), api_services_);
    api::customer::add_instance_metrics_routes(gateway_.customer(), api_services_);
    api::customer::add_instance_ip_routes(gateway_.customer(), api_services_);
    api::customer::add_ip_range_routes(gateway_.customer(), api_services_);
    api::customer::add_promo_routes(gateway_.customer(), api_services_);
    api::customer::add_billing_details_routes(gateway_.customer(), api_services_);
    api::customer::add_firewall_routes(gateway_.customer(), api_services_);
    api::customer::add_job_routes(gateway_.customer(), api_services_);
    api::customer::add_billing_routes(gateway_.customer(), api_services_);
    api::customer::add_payment_routes(gateway_.customer(), api_services_);
    api::admin::add_role_routes(gateway_.admin(), api_services_);
    api::admin::add_company_routes(gateway_.admin(), api_services_);
    api::admin::add_region_routes(gateway_.admin(), api_services_);
    api::admin::add_host_routes(gateway_.admin(), api_services_);
    api::admin::add_ipam_routes(gateway_.admin(), api_services_);
    api::admin::add_project_ip_range_routes(gateway_.admin(), api_services_);
    api::admin::add_promo_code_routes(gateway_.admin(), api_services_);
    api::admin::add_app_routes(gateway_.admin(), api_services_);
    api::admin::add_user_routes(gateway_.admin(), api_services_);
    api::admin::add_limit_request_routes(gateway_.admin(), api_services_);
    api::admin::add_os_image_routes(gateway_.admin(), api_services_);
    api::admin::add_template_routes(gateway_.admin(), api_services_);
    api::admin::add_custom_pricing_routes(gateway_.admin(), api_services_);
    api::admin::add_custom_template_routes(gateway_.admin(), api_services_);
    api::admin::add_vm_routes(gateway_.admin(), api_services_);
    api::admin::add_vm_billing_routes(gateway_.admin(), api_services_);
    api::admin::add_credit_routes(gateway_.admin(), api_services_);
    api::admin::add_report_routes(gateway_.admin(), api_services_);
    api::admin::add_drift_routes(gateway_.admin(), api_services_);
    api::admin::add_join_token_routes(gateway_.admin(), api_services_);
    api::admin::add_prometheus_routes(gateway_.admin(), api_services_);
    api::admin::add_job_routes(gateway_.admin(), api_services_);
}

void service::add_job_handlers() {
    const ipam::settings addresses{cfg_.ipam.release_cooldown, &keys_};
    instances::add_instance_job_handlers(*jobs_, addresses);
    instances::add_instance_change_handlers(*jobs_, addresses);
    instances::add_refund_job_handler(*jobs_, payments_.get());
    instances::add_template_job_handlers(*jobs_);
    firewall::add_firewall_job_handlers(*jobs_);
    ipam::add_ip_job_handlers(*jobs_, addresses);
}

void service::start() {
    http::server_options options;
    options.name = "vpsfleet-coordinator";
    options.body_limit = cfg_.http.body_limit;
    options.read_timeout = cfg_.http.read_timeout;
    options.idle_timeout = cfg_.http.idle_timeout;
    options.on_upgrade = gateway_.upgrade_handler();
    rest_ = std::make_shared<http::server>(io_, options, gateway_.handler());
    rest_->listen(cfg_.http.listen.host, cfg_.http.listen.port);
    rest_->start();
    job_watch_->start();
    fleet_.start();
    if (mail_) {
        mail_->start();
    } else {
        log::info("mail is not configured: queued mail stays in mail_outbox until it is");
    }
    asio::co_spawn(io_, migrate_until_done(), asio::detached);
}

void service::stop() {
    stopping_ = true;
    retry_timer_.cancel();
    if (rest_) rest_->stop();
    job_watch_->stop();
    fleet_.stop();
    if (mail_) mail_->stop();
    if (expiry_) expiry_->stop();
    if (jobs_) jobs_->stop();
}

asio::awaitable<void> service::migrate_until_done() {
    auto delay = std::chrono::milliseconds(250);
    while (!stopping_) {
        try {
            auto migrate = [](pqxx::connection& conn) {
                return store::apply_migrations(conn, store::embedded_migrations());
            };
            const auto report = co_await db_.run(migrate);
            migrated_ = true;
            if (!stopping_) {
                jobs_->start();
                if (expiry_) expiry_->start();
            }
            log::info("database schema ready", {{"applied_now", report.applied_now},
                                                {"already_applied", report.already_applied}});
            co_return;
        } catch (const pqxx::broken_connection& e) {
            log::warn("database unreachable, will retry migrations",
                      {{"error", e.what()}, {"retry_ms", delay.count()}});
        } catch (const store::pool_exhausted& e) {
            log::warn("database pool busy, will retry migrations", {{"error", e.what()}});
        } catch (const std::exception& e) {
            // A migration that fails on a reachable database will not fix itself by retrying.
            log::error("database migration failed", {{"error", e.what()}});
            daemon::request_exit(io_, daemon::exit_failure);
            co_return;
        }
        retry_timer_.expires_after(delay);
        boost::system::error_code ec;
        co_await retry_timer_.async_wait(asio::redirect_error(use_awaitable, ec));
        delay = std::min(delay * 2, std::chrono::milliseconds(5000));
    }
}

asio::awaitable<service::database_probe> service::probe_database() {
    database_probe probe;
    try {
        auto count = [](pqxx::connection& conn) {
            return store::count_applied(conn, store::embedded_migrations());
        };
        probe.applied = co_await db_.run(count);
    } catch (const std::exception& e) {
        probe.error = e.what();
    }
    const auto expected = static_cast<int>(store::embedded_migrations().size());
    db_up_.Set(migrated_ && probe.applied == expected ? 1 : 0);
    co_return probe;
}

asio::awaitable<http::response> service::readyz() {
    const int expected = static_cast<int>(store::embedded_migrations().size());
    json body{{"status", "not ready"}};
    const auto probe = co_await probe_database();
    const auto& applied = probe.applied;
    if (!applied) {
        body["database"] = "unreachable: " + probe.error;
        co_return http::json_response(http::status::service_unavailable, body.dump());
    }
    body["database"] = "ok";
    body["migrations"] = {{"applied", *applied}, {"expected", expected}};
    if (!migrated_ || *applied != expected)
        co_return http::json_response(http::status::service_unavailable, body.dump());
    body["status"] = "ready";
    co_return http::json_response(http::status::ok, body.dump());
}

asio::awaitable<http::response> service::metrics() {
    // db_up answers for the moment of the scrape, so the PostgreSQL-down alert needs no prober.
    co_await probe_database();
    const auto s = db_.pool().stats();
    pool_gauges_.Add({{"state", "capacity"}}).Set(static_cast<double>(s.capacity));
    pool_gauges_.Add({{"state", "open"}}).Set(static_cast<double>(s.open));
    pool_gauges_.Add({{"state", "in_use"}}).Set(static_cast<double>(s.in_use));
    pool_gauges_.Add({{"state", "waiting"}}).Set(static_cast<double>(s.waiting));
    // The pool and the job runner count; the exported counters catch up at each scrape.
    const std::lock_guard lock(scrape_mutex_);
    const auto catch_up = [](prometheus::Counter& counter, std::uint64_t total) {
        const auto value = static_cast<double>(total);
        if (value > counter.Value()) counter.Increment(value - counter.Value());
    };
    catch_up(db_connect_failures_, s.connect_failures);
    const auto jobs = jobs_->stats();
    catch_up(jobs_finished_.Add({{"outcome", "completed"}}), jobs.completed);
    catch_up(jobs_finished_.Add({{"outcome", "failed"}}), jobs.failed);
    catch_up(jobs_finished_.Add({{"outcome", "cancelled"}}), jobs.cancelled);
    catch_up(jobs_finished_.Add({{"outcome", "retried"}}), jobs.retried);
    co_return http::text_response(http::status::ok, metrics::expose(registry_),
                                  metrics::content_type);
}

}  // namespace vpsfleet::coordinator
