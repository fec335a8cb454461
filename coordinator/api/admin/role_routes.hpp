#pragma once
// Admin API (LNVPS): /roles CRUD, /users/{user_id}/roles and /me/roles.
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

namespace vpsfleet::api::admin {

void add_role_routes(endpoints& api, services& s);

// A numeric path parameter, or 400.
std::int64_t id_param(const http::path_params& params, const std::string& name);

}  // namespace vpsfleet::api::admin
