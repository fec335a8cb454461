#pragma once
// Customer API: the catalog, GET /plans, GET /images (active rows, display order) and the
// one-click apps, GET /apps and GET /apps/{slug} (the newest active version of each).
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

namespace vpsfleet::api::customer {

void add_catalog_routes(endpoints& api, services& s);

}  // namespace vpsfleet::api::customer
