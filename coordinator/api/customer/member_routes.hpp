#pragma once
// Customer API: /projects/{project}/members (Suble). The owner and the members the owner added by
// email, who use the project with auth::permission::member; only the owner (or a key with
// WRITE_MEMBERS) adds, changes or removes members, and the owner is neither removed nor demoted.
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

namespace vpsfleet::api::customer {

void add_member_routes(endpoints& api, services& s);

}  // namespace vpsfleet::api::customer
