#pragma once
// What a handler knows about the request beyond HTTP: which API it came through, its request
// id, the caller's address and identity.
#include "coordinator/api/shapes.hpp"
#include "coordinator/auth/principal.hpp"

#include <string>

namespace vpsfleet::api {

struct call {
    flavor api = flavor::plain;
    std::string request_id;
    std::string client_ip;
    auth::principal who;
};

}  // namespace vpsfleet::api
