#include "coordinator/config.hpp"

#include <regex>

namespace vpsfleet::coordinator {

using namespace std::chrono_literals;

coordinator_config load_config(const std::string& path) {
    coordinator_config cfg;
    config::section root = config::load_file(path);

    config::section log_section = root.child("log");
    cfg.log_level = *log::parse_level(
        log_section.get_choice("level", "info", {"debug", "info", "warn", "error"}));
    log_section.finish();

    cfg.io_threads = static_cast<unsigned>(root.get_int("io_threads", cfg.io_threads, 1, 64));

    config::section http = root.child("http");
    cfg.http.listen = http.get_endpoint("listen", cfg.http.listen);
    cfg.http.body_limit = static_cast<std::size_t>(
        http.get_int("body_limit_bytes", static_cast<std::int64_t>(cfg.http.body_limit), 1024,
                     256 * 1024 * 1024));
    cfg.http.read_timeout = http.get_duration("read_timeout", cfg.http.read_timeout, 100ms, 10min);
    cfg.http.idle_timeout = http.get_duration("idle_timeout", cfg.http.idle_timeout, 100ms, 1h);
    http.finish();

    config::section api = root.child("api");
    cfg.api.cors_origins = api.get_string_list("cors_origins", cfg.api.cors_origins);
    config::section limits = api.child("rate_limit");
    auto& rl = cfg.api.rate_limit;
    rl.window = limits.get_duration("window", rl.window, 1s, 24h);
    rl.anonymous = limits.get_int("anonymous", rl.anonymous, 1, 100'000'000);
    rl.user = limits.get_int("user", rl.user, 1, 100'000'000);
    rl.api_key = limits.get_int("api_key", rl.api_key, 1, 100'000'000);
    limits.finish();
    const auto seconds = [&api](std::string_view key, std::chrono::seconds fallback,
                                std::chrono::seconds min, std::chrono::seconds max) {
        return std::chrono::duration_cast<std::chrono::seconds>(
            api.get_duration(key, fallback, min, max));
    };
    cfg.api.access_token_ttl = seconds("access_token_ttl", cfg.api.access_token_ttl, 1s, 24h);
    cfg.api.refresh_token_ttl =
        seconds("refresh_token_ttl", cfg.api.refresh_token_ttl, 1s, 24h * 365);
    cfg.api.password_reset_ttl =
        seconds("password_reset_ttl", cfg.api.password_reset_ttl, 60s, 24h * 7);
    cfg.api.email_verification_ttl =
        seconds("email_verification_ttl", cfg.api.email_verification_ttl, 60s, 24h * 30);
    cfg.api.mfa_issuer = api.get_string("mfa_issuer", cfg.api.mfa_issuer);
    cfg.api.public_url = api.get_string("public_url", cfg.api.public_url);
    api.finish();

    config::section jobs = root.child("jobs");
    cfg.jobs.workers = static_cast<std::size_t>(
        jobs.get_int("workers", static_cast<std::int64_t>(cfg.jobs.workers), 1, 256));
    cfg.jobs.lease = jobs.get_duration("lease", cfg.jobs.lease, 100ms, 1h);
    jobs.finish();

    config::section ipam = root.child("ipam");
    cfg.ipam.release_cooldown =
        ipam.get_duration("release_cooldown", cfg.ipam.release_cooldown, 0ms, 24h * 365);
    ipam.finish();

    config::section billing = root.child("billing");
    auto& bc = cfg.billing;
    bc.prepaid = billing.get_bool("prepaid", bc.prepaid);
    bc.currency = billing.get_string("currency", bc.currency);
    if (!std::regex_match(bc.currency, std::regex("[A-Z]{3}"))) {
        billing.fail("currency", "must be an ISO 4217 code such as DKK or EUR");
    }
    bc.sweep_interval = billing.get_duration("sweep_interval", bc.sweep_interval, 10ms, 24h);
    bc.renew_before = billing.get_duration("renew_before", bc.renew_before, 0ms, 24h * 60);
    bc.notify_before = billing.get_duration("notify_before", bc.notify_before, 0ms, 24h * 60);
    bc.grace = billing.get_duration("grace", bc.grace, 0ms, 24h * 365);
    bc.tax_default_bp =
        static_cast<int>(billing.get_int("tax_default_bp", bc.tax_default_bp, 0, 10000));
    for (const auto& rate : billing.get_string_list("tax_rates", {})) {
        std::smatch m;
        if (!std::regex_match(rate, m, std::regex("([A-Z]{2})=([0-9]{1,5})")) ||
            std::stoi(m[2].str()) > 10000) {
            billing.fail("tax_rates",
                         "expected COUNTRY=BASIS_POINTS such as DK=2500, got '" + rate + "'");
        }
        bc.tax_by_country[m[1].str()] = std::stoi(m[2].str());
    }
    bc.seller_name = billing.get_string("seller_name", bc.seller_name);
    bc.seller_address = billing.get_string_list("seller_address", bc.seller_address);
    bc.seller_vat_id = billing.get_string("seller_vat_id", bc.seller_vat_id);
    bc.seller_email = billing.get_string("seller_email", bc.seller_email);
    config::section stripe = billing.child("stripe");
    if (const auto key = stripe.get_optional_string("secret_key")) {
        stripe_config sc;
        sc.secret_key = *key;
        sc.api_base = stripe.get_string("api_base", sc.api_base);
        sc.webhook_secret = stripe.get_string("webhook_secret", "");
        if (sc.webhook_secret.empty()) stripe.fail("webhook_secret", "is required with secret_key");
        sc.ca_file = stripe.get_optional_string("ca_file");
        sc.timeout = stripe.get_duration("timeout", sc.timeout, 100ms, 5min);
        sc.checkout_url =
            stripe.get_string("checkout_url", cfg.api.public_url + "/billing/checkout");
        bc.stripe = sc;
    }
    stripe.finish();
    billing.finish();

    config::section limits_section = root.child("limits");
    auto& lc = cfg.limits;
    lc.instances = limits_section.get_int("instances", lc.instances, 0, 1'000'000);
    lc.memory_mb = limits_section.get_int("memory_mb", lc.memory_mb, 0, 1'000'000'000);
    lc.template_storage_gb =
        limits_section.get_int("template_storage_gb", lc.template_storage_gb, 0, 100'000'000);
    lc.restores_per_month =
        limits_section.get_int("restores_per_month", lc.restores_per_month, 0, 1'000'000);
    limits_section.finish();

    config::section fleet = root.child("fleet");
    cfg.fleet.listen = fleet.get_endpoint("listen", cfg.fleet.listen);
    cfg.fleet.state_dir = fleet.get_string("state_dir", cfg.fleet.state_dir);
    cfg.fleet.ca_cert = fleet.get_optional_string("ca_cert");
    cfg.fleet.ca_key = fleet.get_optional_string("ca_key");
    if (cfg.fleet.ca_cert.has_value() != cfg.fleet.ca_key.has_value()) {
        fleet.fail(cfg.fleet.ca_cert ? "ca_key" : "ca_cert", "ca_cert and ca_key go together");
    }
    cfg.fleet.server_names = fleet.get_string_list("server_names", cfg.fleet.server_names);
    if (cfg.fleet.server_names.empty()) fleet.fail("server_names", "must name at least one host");
    cfg.fleet.certificate_lifetime = std::chrono::duration_cast<std::chrono::seconds>(
        fleet.get_duration("certificate_lifetime", cfg.fleet.certificate_lifetime, 10s, 24h * 365));
    cfg.fleet.heartbeat = fleet.get_duration("heartbeat", cfg.fleet.heartbeat, 10ms, 10min);
    cfg.fleet.lease = fleet.get_duration("lease", cfg.fleet.lease, 30ms, 1h);
    cfg.fleet.reconcile_interval =
        fleet.get_duration("reconcile_interval", cfg.fleet.reconcile_interval, 10ms, 24h);
    cfg.fleet.samples_flush =
        fleet.get_duration("samples_flush", cfg.fleet.samples_flush, 10ms, 1min);
    cfg.fleet.samples_retention = std::chrono::duration_cast<std::chrono::seconds>(
        fleet.get_duration("samples_retention", cfg.fleet.samples_retention, 1h, 24h * 3650));
    if (cfg.fleet.lease < 2 * cfg.fleet.heartbeat) {
        fleet.fail("lease",
                   "must be at least twice the heartbeat, so one lost heartbeat is not an outage");
    }
    cfg.fleet.max_frame_bytes = static_cast<std::size_t>(
        fleet.get_int("max_frame_bytes", static_cast<std::int64_t>(cfg.fleet.max_frame_bytes), 4096,
                      64 * 1024 * 1024));
    cfg.fleet.send_queue_messages = static_cast<std::size_t>(
        fleet.get_int("send_queue_messages",
                      static_cast<std::int64_t>(cfg.fleet.send_queue_messages), 1, 1'000'000));
    fleet.finish();

    config::section db = root.child("database");
    auto url = db.get_optional_string("url");
    if (!url || url->empty()) db.fail("url", "required: the PostgreSQL connection string");
    cfg.database.url = *url;
    cfg.database.pool_size = static_cast<std::size_t>(db.get_int("pool_size", 8, 1, 512));
    cfg.database.connect_timeout =
        db.get_duration("connect_timeout", cfg.database.connect_timeout, 1s, 5min);
    cfg.database.acquire_timeout =
        db.get_duration("acquire_timeout", cfg.database.acquire_timeout, 10ms, 5min);
    db.finish();

    config::section mail = root.child("mail");
    const auto smtp_url = mail.get_optional_string("smtp_url");
    mail_config m;
    m.from = mail.get_string("from", "");
    m.username = mail.get_optional_string("username");
    m.password = mail.get_optional_string("password");
    m.starttls = mail.get_bool("starttls", m.starttls);
    m.poll_interval = mail.get_duration("poll_interval", m.poll_interval, 10ms, 1h);
    m.timeout = mail.get_duration("timeout", m.timeout, 100ms, 10min);
    m.retry_backoff = mail.get_duration("retry_backoff", m.retry_backoff, 10ms, 1h);
    m.max_attempts = static_cast<int>(mail.get_int("max_attempts", m.max_attempts, 1, 100));
    if (smtp_url) {
        if (!smtp_url->starts_with("smtp://") && !smtp_url->starts_with("smtps://")) {
            mail.fail("smtp_url", "expected smtp://HOST:PORT or smtps://HOST:PORT");
        }
        if (m.from.find('@') == std::string::npos ||
            m.from.find_first_of("<>\r\n \t") != std::string::npos) {
            mail.fail("from",
                      "required with smtp_url: the sender address, e.g. noreply@example.com");
        }
        m.smtp_url = *smtp_url;
        cfg.mail = std::move(m);
    } else if (!m.from.empty() || m.username || m.password) {
        mail.fail("smtp_url", "required when mail is configured");
    }
    mail.finish();

    root.finish();
    return cfg;
}

}  // namespace vpsfleet::coordinator
