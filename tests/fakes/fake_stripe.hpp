#pragma once
// A fake Stripe API server for tests and the local demo, speaking Stripe's HTTP API (v1,
// form-encoded requests, JSON answers and error bodies) over TLS with a throwaway CA of its own,
// or plain HTTP, on a free port. It checks the Bearer secret key (401 with Stripe's error body),
// honours Idempotency-Key like Stripe (the same key and parameters replay the first answer with
// Idempotent-Replayed: true; other parameters get 400 idempotency_error), keeps its objects in
// memory (stripe_ledger.hpp lists the test cards it knows), and posts each event it raises to
// the webhook URL as Stripe does: JSON body, Stripe-Signature "t=...,v1=..." signed with the
// webhook secret. Webhooks go out one at a time, in order, from a thread of their own, once each
// (no retries; resend_last_event repeats one on request).
//
// Events: payment_intent.succeeded / payment_intent.payment_failed (confirming an intent, at
// create or through POST /v1/payment_intents/{id}/confirm), setup_intent.succeeded /
// setup_intent.setup_failed (POST /v1/setup_intents/{id}/confirm, which also attaches the card
// to the intent's customer), charge.refunded (a refund, which succeeds at once).
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace vpsfleet::testing {

struct fake_stripe_options {
    std::string secret_key = "sk_test_fake_vpsfleet_0123456789";
    bool tls = true;  // false: plain HTTP
    std::string bind_address = "127.0.0.1";
    std::uint16_t port = 0;   // 0: a free port
    std::string webhook_url;  // http(s)://...; empty: events are kept but not sent
    std::string webhook_secret = "whsec_fake_vpsfleet_0123456789";
    std::string webhook_ca_pem;  // trust for an https webhook_url; empty: the system store
    std::chrono::milliseconds webhook_timeout{5'000};
    std::string api_version = "2024-06-20";  // stamped on events
    std::size_t max_page_size = 100;         // list pages hold at most this many
    bool verbose = false;                    // one stderr line per request and per webhook
};

struct fake_stripe_counts {
    std::size_t requests = 0;  // every API request, refused ones included
    std::size_t unauthorized = 0;
    std::size_t idempotent_replays = 0;
    std::size_t idempotency_conflicts = 0;
    std::size_t customers = 0;
    std::size_t payment_methods = 0;
    std::size_t payment_intents = 0;
    std::size_t setup_intents = 0;
    std::size_t refunds = 0;
    std::size_t events = 0;
};

// One API request as it arrived.
struct fake_stripe_request {
    std::string method;
    std::string target;  // path and query
    std::string content_type;
    std::string stripe_version;
    std::string idempotency_key;
    std::string body;
    int status = 0;  // what the fake answered
};

struct fake_stripe_event {
    std::string id;
    std::string type;
    std::string payload;  // the exact JSON body posted
};

struct fake_webhook_delivery {
    std::string event_id;
    std::string event_type;
    std::int64_t signed_at = 0;  // t= of the signature
    int status = 0;              // the receiver's HTTP status; 0: no answer
    std::string error;           // why there was no answer
};

class fake_stripe {
  public:
    explicit fake_stripe(fake_stripe_options options = {});
    ~fake_stripe();
    fake_stripe(const fake_stripe&) = delete;
    fake_stripe& operator=(const fake_stripe&) = delete;

    std::uint16_t port() const;
    std::string url() const;            // https://127.0.0.1:PORT (http:// without TLS)
    const std::string& ca_pem() const;  // the CA to trust for url(); empty without TLS
    const std::string& secret_key() const;
    const std::string& webhook_secret() const;

    fake_stripe_counts counts() const;
    std::vector<fake_stripe_request> requests() const;
    std::vector<fake_stripe_event> events() const;
    std::vector<fake_webhook_delivery> deliveries() const;
    // Any object by id (cus_, pm_, pi_, seti_, ch_, re_) as the API would show it; null if none.
    nlohmann::json object(const std::string& id) const;

    void set_webhook_url(const std::string& url);
    // Each API answer waits this long first (a slow or hung Stripe).
    void set_delay(std::chrono::milliseconds delay);
    // The next API request (past the key check) is answered with this status and Stripe's error
    // body of that type and code, and nothing happens. Called n times, it fails the next n.
    void fail_next_request(int status, const std::string& type, const std::string& code,
                           const std::string& message);

    // Sends the last event again, as Stripe does when it retries: the same body, signed afresh
    // with t = `signed_at` (default now; an old time makes a stale delivery).
    void resend_last_event(std::optional<std::chrono::system_clock::time_point> signed_at = {});
    // Waits until every queued webhook has been attempted; false when `timeout` passes first.
    bool wait_for_webhooks(std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace vpsfleet::testing
