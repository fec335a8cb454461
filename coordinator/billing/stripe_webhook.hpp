#pragma once
// Verifies a webhook Stripe posted to us, the way Stripe signs them: the Stripe-Signature header
// is "t=<unix seconds>,v1=<hex>[,v1=<hex>...][,v0=...]", and each v1 is the lower-case hex
// HMAC-SHA256, keyed with the endpoint's signing secret ("whsec_..." used as it is), of
// "<t>.<raw body>". Any matching v1 will do (Stripe sends two while a secret is being rolled);
// v0 and unknown elements are ignored. The body must be the exact bytes received, before any
// JSON parsing.
//
// The signature is checked before the timestamp, so `stale` is only said of a body Stripe did
// sign: one older (or further in the future) than `tolerance`, a replay of a captured request.
//
// Not done here: refusing an event seen before. Stripe delivers at least once and resends with a
// fresh timestamp and signature, so the same event id can arrive twice, both times verified. The
// caller records each event id in PostgreSQL (a unique key) in the same transaction as the
// event's effect and acknowledges a repeat with 200 without acting again.
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace vpsfleet::billing {

enum class webhook_verdict {
    ok,
    malformed_header,  // missing or empty, no t, a t that is not a number, or no v1 at all
    bad_signature,     // no v1 matches (wrong secret, altered body or forged), or no secret
    stale,             // signed, but |now - t| > tolerance
    bad_payload,       // signed and fresh, but the body is not a Stripe event
};

// The fields of Stripe's event that billing acts on.
struct webhook_event {
    std::string id;    // evt_...: the key for refusing repeats
    std::string type;  // payment_intent.succeeded, charge.refunded, ...
    std::int64_t created = 0;
    nlohmann::json
        data_object;  // data.object: the intent, setup intent, charge... as Stripe sent it
};

struct webhook_result {
    webhook_verdict verdict = webhook_verdict::malformed_header;
    webhook_event event;  // filled when verdict is ok
};

webhook_result verify_stripe_webhook(
    std::string_view payload, std::string_view stripe_signature_header,
    std::string_view endpoint_secret, std::chrono::seconds tolerance = std::chrono::seconds(300),
    std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

std::string_view verdict_name(webhook_verdict verdict);

}  // namespace vpsfleet::billing
