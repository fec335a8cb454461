#pragma once
// Admin API: customers' requests for higher account limits (/limit_requests: list by status,
// get, approve, deny). Approving writes the account's own limit for that quota; each decision is
// audited. Operators need users::view to read and users::update to decide.
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

namespace vpsfleet::api::admin {

void add_limit_request_routes(endpoints& api, services& s);

}  // namespace vpsfleet::api::admin
