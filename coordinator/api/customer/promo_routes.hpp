#pragma once
// Customer API: POST /billing/promo {code}: redeems a promo code into the caller's credits
// ({creditedOre, balanceAfterOre}); 404 promo_not_found, 400 promo_inactive (inactive, expired
// or used up), 409 promo_already_used, as the Suble document says.
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

namespace vpsfleet::api::customer {

void add_promo_routes(endpoints& api, services& s);

}  // namespace vpsfleet::api::customer
