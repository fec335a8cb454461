#pragma once
// What route handlers reach for: the database, the API settings and the keys.
#include "coordinator/auth/key_ring.hpp"
#include "coordinator/config.hpp"
#include "coordinator/store/database.hpp"

namespace vpsfleet::api {

struct services {
    store::database& db;
    const coordinator::api_config& cfg;
    auth::key_ring& keys;
};

}  // namespace vpsfleet::api
