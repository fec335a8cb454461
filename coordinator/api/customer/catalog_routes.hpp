#pragma once
// Customer API: the catalog, GET /plans and GET /images (active rows, display order).
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

namespace vpsfleet::api::customer {

void add_catalog_routes(endpoints& api, services& s);

}  // namespace vpsfleet::api::customer
