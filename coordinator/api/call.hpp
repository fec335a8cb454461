#pragma once
// What a handler knows about the request beyond HTTP: which API it came through, its request
// id, the caller's address and identity; and, from a handler accepting a WebSocket, its session.
#include "common/http_server.hpp"
#include "coordinator/api/shapes.hpp"
#include "coordinator/auth/principal.hpp"

#include <cstdint>
#include <string>

namespace vpsfleet::api {

struct call {
    flavor api = flavor::plain;
    std::string request_id;
    std::string client_ip;
    auth::principal who;
    // The customer route's permission bit (access::key), which resolve_project holds a project
    // member to: members lack some bits the owner always has.
    std::uint64_t route_permission = 0;
    // Set with a 101 response by a route that accepts a WebSocket upgrade.
    http::websocket_session websocket;
};

}  // namespace vpsfleet::api
