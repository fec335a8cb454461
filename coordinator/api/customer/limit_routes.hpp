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
// plan in the project would take its owner past the instances or memory limit. A caller who is
// not the owner (a member) learns whose limit it is, not the owner's figures.
void refuse_instance_over_limits(pqxx::work& tx, const services& s, std::int64_t caller_id,
                                 std::int64_t project_id, std::int64_t plan_id);

// The same 403 when moving an instance of the project from one plan to another would take its
// owner past the memory limit. A smaller plan always fits.
void refuse_resize_over_limits(pqxx::work& tx, const services& s, std::int64_t caller_id,
                               std::int64_t project_id, std::int64_t from_plan_id,
                               std::int64_t to_plan_id);

}  // namespace vpsfleet::api::customer
