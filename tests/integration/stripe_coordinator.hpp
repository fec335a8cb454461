#pragma once
// A coordinator process on a fresh database whose billing.stripe points at a fake Stripe over
// TLS, with the fake's signed webhooks pointed back at the coordinator: the set-up of every test
// that pays through the provider.
#include "tests/fakes/fake_stripe.hpp"
#include "tests/integration/api_fixture.hpp"
#include "tests/support/temp_file.hpp"

#include <string>

namespace vpsfleet::testing {

struct stripe_coordinator {
    fake_stripe stripe;
    temp_file ca;
    std::string db;
    running_daemon coordinator;
    api_client api;

    // `billing_extra`: more YAML lines of the billing section ("  prepaid: true\n").
    explicit stripe_coordinator(const std::string& billing_extra = "");
};

}  // namespace vpsfleet::testing
