#pragma once
// Customer API, Suble billing: /billing/credits (balance and ledger), /billing/overview,
// /billing/usage, /billing/settings (auto-recharge), /billing/alerts (low-balance mails).
// Billing belongs to a person, not a project: these routes need a signed-in user (an API key
// without one is refused as `unauthenticated`). Amounts are the "...Ore" fields of the document:
// integer minor units of the account's currency (billing.currency, DKK by default).
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

namespace vpsfleet::api::customer {

void add_billing_routes(endpoints& api, services& s);

// The signed-in user billing acts for; 403 unauthenticated for a caller without one.
std::int64_t billing_user(const call& c);

}  // namespace vpsfleet::api::customer
