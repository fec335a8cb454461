#pragma once
// Customer API: /auth/* (sign-up, login with the MFA step, refresh, logout, password reset,
// email verification), /me, /account/profile and /account/mfa/*.
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

namespace vpsfleet::api::customer {

void add_auth_routes(endpoints& api, services& s);
void add_account_routes(endpoints& api, services& s);

}  // namespace vpsfleet::api::customer
