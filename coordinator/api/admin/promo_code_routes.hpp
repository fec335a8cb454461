#pragma once
// Admin API: /promo_codes, the codes customers redeem with POST /api/v1/billing/promo: list,
// get, create (code, amount in minor units, currency, optional cap, expiry and description) and
// update (active, cap, expiry, description). Redemptions are counted; a code is never deleted,
// so the ledger entries it made keep their origin. payments::view / payments::update.
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

namespace vpsfleet::api::admin {

void add_promo_code_routes(endpoints& api, services& s);

}  // namespace vpsfleet::api::admin
