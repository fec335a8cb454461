#pragma once
// Customer API: GET /account/limits (each quota's usage and effective limit), GET|POST
// /account/limit-requests (the account's requests for more, one pending per quota), and the
// check that refuses ordering an instance past the instances or memory limit.
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

#include <pqxx/pqxx>

#include <cstdint>

namespace vpsfleet::api::customer {

void add_limit_routes(endpoints& api, services& s);

// 403 limit_exceeded, naming the quota, its limit and its usage, when one more instance of the
// plan in the project would take its owner past the instances or memory limit.
void refuse_instance_over_limits(pqxx::work& tx, const services& s, std::int64_t project_id,
                                 std::int64_t plan_id);

}  // namespace vpsfleet::api::customer
