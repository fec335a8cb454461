#pragma once
// The coordinator's YAML configuration (see coordinator/coordinator.example.yaml).
#include "common/config_reader.hpp"
#include "common/log.hpp"

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace vpsfleet::coordinator {

struct database_config {
    std::string url;  // libpq connection string or postgresql:// URI
    std::size_t pool_size = 8;
    std::chrono::milliseconds connect_timeout{3000};
    std::chrono::milliseconds acquire_timeout{5000};
};

struct http_config {
    config::endpoint listen{"127.0.0.1", 8080};
    std::size_t body_limit = 1024 * 1024;
    std::chrono::milliseconds read_timeout{15'000};
    std::chrono::milliseconds idle_timeout{60'000};
};

struct fleet_config {
    config::endpoint listen{"127.0.0.1", 8443};
    // Where the fleet CA lives when ca_cert/ca_key are not given; created on first start.
    std::string state_dir = "/var/lib/vpsfleet-coordinator";
    std::optional<std::string> ca_cert;
    std::optional<std::string> ca_key;
    // Names and addresses agents dial; they go into the listener's certificate.
    std::vector<std::string> server_names{"127.0.0.1", "localhost"};
    std::chrono::seconds certificate_lifetime{7 * 24 * 3600};
    std::chrono::milliseconds heartbeat{5000};
    std::chrono::milliseconds lease{15'000};
    // Besides after every inventory report, each held host is reconciled this often, so changes
    // on the database side (an instance deleted, a job done) are compared too.
    std::chrono::milliseconds reconcile_interval{60'000};
    // Usage samples from agents are written this often, and kept this long.
    std::chrono::milliseconds samples_flush{1000};
    std::chrono::seconds samples_retention{30 * 24 * 3600};
    std::size_t max_frame_bytes = 1024 * 1024;
    std::size_t send_queue_messages = 1024;
};

// Fixed-window request limits per caller: an API key, else a user, else the client address.
struct rate_limit_config {
    std::chrono::milliseconds window{60'000};
    std::int64_t anonymous = 120;
    std::int64_t user = 1200;
    std::int64_t api_key = 1200;
};

struct api_config {
    std::vector<std::string> cors_origins;  // exact origins, or "*"
    rate_limit_config rate_limit;
    std::chrono::seconds access_token_ttl{15 * 60};
    std::chrono::seconds refresh_token_ttl{30 * 24 * 3600};
    std::chrono::seconds password_reset_ttl{3600};
    std::chrono::seconds email_verification_ttl{24 * 3600};
    std::string mfa_issuer = "vpsfleet";
    // Where links in mails (password reset, email verification) point.
    std::string public_url = "http://127.0.0.1:8080";
};

// Outgoing mail over SMTP; absent, mail stays queued in mail_outbox.
struct mail_config {
    std::string smtp_url;  // smtp://HOST:PORT, or smtps:// for TLS from the first byte
    std::string from;      // envelope sender and From: address
    std::optional<std::string> username;
    std::optional<std::string> password;
    bool starttls = false;  // require STARTTLS on smtp:// (refuse to send in clear)
    std::chrono::milliseconds poll_interval{10'000};
    std::chrono::milliseconds timeout{30'000};        // one SMTP conversation
    std::chrono::milliseconds retry_backoff{30'000};  // first retry; doubles up to an hour
    int max_attempts = 8;
};

struct jobs_config {
    std::size_t workers = 2;
    // A job whose worker stops renewing this lease (a crashed coordinator) is taken again.
    std::chrono::milliseconds lease{30'000};
};

// IP address management.
struct ipam_config {
    // A released address is not handed out again (by sequential or random allocation) for this
    // long, so caches and reputation that followed its last holder have time to expire.
    std::chrono::milliseconds release_cooldown{3'600'000};
};

// Card payments through Stripe (or a stand-in speaking its API): credit top-ups and saved cards.
struct stripe_config {
    std::string api_base = "https://api.stripe.com";
    std::string secret_key;              // sk_live_... / sk_test_...
    std::string webhook_secret;          // whsec_...: verifies POST /api/v1/billing/webhooks/stripe
    std::optional<std::string> ca_file;  // PEM trust anchors instead of the system store
    std::chrono::milliseconds timeout{30'000};
    // Where a customer's browser finishes a payment or saves a card (a page running Stripe.js
    // with the intent's client secret); the API's redirectUrl is this with the intent appended.
    std::string checkout_url = "http://127.0.0.1:8080/billing/checkout";
};

// Prepaid billing (LNVPS): a VM is paid for a period at a time from the owner's credits.
struct billing_config {
    // Off: VMs are free and have no expiry (a private cloud). On: creating a VM charges its first
    // period, and the expiry sweep renews, warns, stops and deletes.
    bool prepaid = false;
    std::string currency = "DKK";  // of every credit account opened from now on
    std::chrono::milliseconds sweep_interval{60'000};
    std::chrono::milliseconds renew_before{24 * 3'600'000LL};       // auto-renew from credits
    std::chrono::milliseconds notify_before{3 * 24 * 3'600'000LL};  // mail the owner
    std::chrono::milliseconds grace{7 * 24 * 3'600'000LL};  // stopped this long, then deleted
    std::optional<stripe_config> stripe;  // absent: top-ups answer 503 provider_not_configured
    // VAT in basis points (2500 = 25 %) for buyers in a country tax_by_country does not name.
    int tax_default_bp = 0;
    std::map<std::string, int> tax_by_country;  // "DK" -> 2500
    // The seller on invoices.
    std::string seller_name = "vpsfleet";
    std::vector<std::string> seller_address;
    std::string seller_vat_id;
    std::string seller_email;
};

// Platform defaults of each account's quotas (GET /api/v1/account/limits). An account's own limit,
// written when an operator approves its limit request, replaces the default for that quota.
struct limits_config {
    std::int64_t instances = 10;     // live instances across the account's projects
    std::int64_t memory_mb = 65536;  // the sum of their plans' memory
    std::int64_t template_storage_gb = 100;
    std::int64_t restores_per_month = 3;
};

struct coordinator_config {
    log::level log_level = log::level::info;
    unsigned io_threads = 2;
    http_config http;
    api_config api;
    jobs_config jobs;
    ipam_config ipam;
    billing_config billing;
    limits_config limits;
    fleet_config fleet;
    database_config database;
    std::optional<mail_config> mail;
};

// Throws config::config_error naming the file and key on any unknown key or bad value.
coordinator_config load_config(const std::string& path);

}  // namespace vpsfleet::coordinator
