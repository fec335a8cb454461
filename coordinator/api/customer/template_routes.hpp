#pragma once
// Customer API: a project's templates (Suble "Templates"): GET /projects/{project}/templates,
// PATCH .../templates/{template} (rename) and DELETE .../templates/{template} (202 with a
// template.delete job). Saving a backup as a template belongs to the backups routes.
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

namespace vpsfleet::api::customer {

void add_template_routes(endpoints& api, services& s);

}  // namespace vpsfleet::api::customer
