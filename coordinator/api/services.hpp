#pragma once
// What route handlers reach for: the database, the API settings and the keys.
#include "coordinator/auth/key_ring.hpp"
#include "coordinator/billing/payment_provider.hpp"
#include "coordinator/config.hpp"
#include "coordinator/store/database.hpp"

namespace vpsfleet::jobs {
class job_watch;
}

namespace vpsfleet::api {

struct services {
    store::database& db;
    const coordinator::api_config& cfg;
    auth::key_ring& keys;
    const coordinator::billing_config& billing;
    // Platform defaults of the account quotas (config `limits:`).
    coordinator::limits_config limits;
    // Card payments; null when billing.stripe is not configured.
    billing::payment_provider* payments = nullptr;
    // Live job events (the admin feedback WebSocket); null where jobs are not watched.
    jobs::job_watch* job_watch = nullptr;
};

}  // namespace vpsfleet::api
