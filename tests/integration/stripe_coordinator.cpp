#include "tests/integration/stripe_coordinator.hpp"

#include "tests/integration/test_helpers.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace vpsfleet::testing {

stripe_coordinator::stripe_coordinator(const std::string& billing_extra)
    : ca(stripe.ca_pem(), ".pem"),
      db(fresh_database()),
      coordinator(start_coordinator(
          db, "billing:\n  currency: DKK\n" + billing_extra + "  stripe:\n    api_base: " +
                  stripe.url() + "\n    secret_key: " + stripe.secret_key() +
                  "\n    webhook_secret: " + stripe.webhook_secret() +
                  "\n    ca_file: " + ca.path() +
                  "\n    timeout: 5s\n    checkout_url: https://panel.example.com/pay\n")),
      api(coordinator.port) {
    EXPECT_EQ(
        wait_for_status("127.0.0.1", coordinator.port, "/readyz", 200, std::chrono::seconds(20))
            .status,
        200);
    stripe.set_webhook_url("http://127.0.0.1:" + std::to_string(coordinator.port) +
                           "/api/v1/billing/webhooks/stripe");
}

}  // namespace vpsfleet::testing
