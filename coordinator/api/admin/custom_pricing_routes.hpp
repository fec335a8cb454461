#pragma once
// Admin API (LNVPS "Custom Pricing Models Management"), vm_custom_pricing::view/create/update/
// delete:
//   /custom_pricing (list ?region_id&enabled, create), /custom_pricing/{id} (get, patch, delete:
//   a model custom templates use is disabled instead), /custom_pricing/{id}/copy,
//   /regions/{region_id}/custom_pricing;
//   /custom_pricing/{pricing_id}/templates (list, create), /custom_templates/{id} (get with its
//   price, patch, delete), /custom_pricing/{pricing_id}/calculate (a quote, view permission).
// Money is integer minor units of the model's currency; billing/custom_pricing.hpp prices.
// A model's expires may be in the past: that ends the offer at once and keeps its templates.
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

namespace vpsfleet::api::admin {

void add_custom_pricing_routes(endpoints& api, services& s);
void add_custom_template_routes(endpoints& api, services& s);

}  // namespace vpsfleet::api::admin
