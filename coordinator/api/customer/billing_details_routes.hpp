#pragma once
// Customer API: GET|PUT /billing/details, the account's invoice name, address and company
// details as the Suble document shapes them (null until saved). The country is the one VAT is
// charged by (billing.tax_rates), so saving it changes the rate of the next invoice.
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

namespace vpsfleet::api::customer {

void add_billing_details_routes(endpoints& api, services& s);

}  // namespace vpsfleet::api::customer
