#pragma once
// Customer API: /projects/{project}/instances (list, create, get, rename, delete) and power
// actions. Changes are jobs (instances/instance_jobs): the handler writes the instance row and
// enqueues its job in one transaction and answers 202 with the job.
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

namespace vpsfleet::api::customer {

void add_instance_routes(endpoints& api, services& s);

}  // namespace vpsfleet::api::customer
