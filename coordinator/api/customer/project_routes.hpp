#pragma once
// Customer API: /projects (list, create, get) and /projects/{project}/api-keys. Projects are the
// owner's only until project members arrive with the instances work.
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

#include <pqxx/pqxx>

namespace vpsfleet::api::customer {

void add_project_routes(endpoints& api, services& s);

// The id of a project the caller may use: the key's own project, or one the user owns.
// Anything else is 404 project_not_found, so project uids cannot be probed.
std::int64_t resolve_project(pqxx::work& tx, const call& c, const std::string& project_uid);

}  // namespace vpsfleet::api::customer
