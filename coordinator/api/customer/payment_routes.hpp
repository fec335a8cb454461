#pragma once
// Customer API, Suble billing with money coming in: POST /billing/top-up, the saved cards under
// /billing/payment-methods (list, add through Stripe, make default, remove) and
// POST /billing/webhooks/stripe, where the provider reports payments and saved cards. A top-up is
// credited when the provider says it succeeded: at once when a saved card is charged, else by the
// webhook; either way exactly once (billing/topups.hpp). Without billing.stripe these answer 503
// provider_not_configured.
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

namespace vpsfleet::api::customer {

void add_payment_routes(endpoints& api, services& s);

}  // namespace vpsfleet::api::customer
