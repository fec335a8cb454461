#pragma once
// Customer API: /projects (list, create, get) and /projects/{project}/api-keys. A project is used
// by its owner and its members (member_routes).
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

#include <pqxx/pqxx>

namespace vpsfleet::api::customer {

void add_project_routes(endpoints& api, services& s);

// The id of a project the caller may use: the key's own project, or one the user owns or is a
// member of. Anything else is 404 project_not_found, so project uids cannot be probed. A member
// who is not the owner is refused 403 missing_permission on a route whose permission bit
// (call::route_permission) is outside auth::permission::member.
std::int64_t resolve_project(pqxx::work& tx, const call& c, const std::string& project_uid);

}  // namespace vpsfleet::api::customer
