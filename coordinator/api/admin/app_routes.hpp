#pragma once
// Admin API: /apps, the one-click app catalog customers order from (GET /api/v1/apps): list, get,
// create and update. A row is one version of an app; customers see the newest active version of
// each slug. What an app installs (its image, script and needs) is fixed once created, so the
// instances built from a version keep a true record: a changed install is a new version, and an
// old one is retired by setting active to false. vm_template::view / create / update.
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

namespace vpsfleet::api::admin {

void add_app_routes(endpoints& api, services& s);

}  // namespace vpsfleet::api::admin
