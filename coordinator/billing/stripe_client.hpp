#pragma once
// The payment provider on Stripe's REST API (v1): form-encoded requests with the secret key as a
// Bearer token, a pinned Stripe-Version and an Idempotency-Key on every create. Cards are the
// only payment method type asked for, so a confirmation never needs a return URL.
#include "coordinator/billing/payment_provider.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace vpsfleet::billing {

struct stripe_options {
    // https://api.stripe.com, or a stand-in such as tests/fakes/fake_stripe (http:// is accepted
    // for a local demo only: the secret key then travels in clear).
    std::string api_base = "https://api.stripe.com";
    std::string secret_key;  // sk_live_..., sk_test_... or a restricted rk_... key
    std::string ca_pem;      // PEM trust anchors replacing the system store; empty: system store
    std::chrono::milliseconds timeout{30'000};  // each call, connecting included
    // The API version the answers are parsed for; change it only together with the parsing.
    std::string api_version = "2024-06-20";
};

// Throws payment_error{"invalid_config"} when api_base is not an http(s) base URL or the key is
// empty or holds whitespace.
std::unique_ptr<payment_provider> make_stripe_provider(const stripe_options& options);

}  // namespace vpsfleet::billing
