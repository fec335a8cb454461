#pragma once
// Admin API (LNVPS): what operators run the business with. /users (list, get, update), the
// catalog (/vm_os_images, /vm_templates, /cost_plans: list, get, create, update, delete) and /vms
// (list, get, start, stop, delete, history). LNVPS templates are the customer API's plans, its
// OS images are the customer API's images and its VMs are instances (migration 0012 says how the
// fields map).
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

namespace vpsfleet::api::admin {

void add_user_routes(endpoints& api, services& s);
void add_os_image_routes(endpoints& api, services& s);
// VM templates and the cost plans they are priced by.
void add_template_routes(endpoints& api, services& s);
void add_vm_routes(endpoints& api, services& s);
// A user's credits ledger and manual adjustments.
void add_credit_routes(endpoints& api, services& s);
// extend, refund and payments of a VM (prepaid billing).
void add_vm_billing_routes(endpoints& api, services& s);

}  // namespace vpsfleet::api::admin
