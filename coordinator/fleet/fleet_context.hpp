#pragma once
// What every piece of the coordinator's fleet link shares: configuration, database, CA, metrics,
// the sessions this instance holds, and the revocation view the TLS handshake consults.
#include "coordinator/config.hpp"
#include "coordinator/fleet/fleet_ca.hpp"
#include "coordinator/fleet/fleet_metrics.hpp"
#include "coordinator/fleet/host_registry.hpp"
#include "coordinator/fleet/usage_samples.hpp"
#include "coordinator/store/database.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace vpsfleet::fleet {

class agent_session;

struct fleet_context {
    fleet_context(const coordinator::fleet_config& c, store::database& d, fleet_ca a,
                  fleet_metrics& m, std::string inst)
        : cfg(c), db(d), ca(std::move(a)), metrics(m), instance(std::move(inst)) {}

    const coordinator::fleet_config& cfg;
    store::database& db;
    fleet_ca ca;
    fleet_metrics& metrics;
    std::string instance;  // identifies this coordinator process in hosts.connected_instance
    // Usage samples waiting for the next write (fleet_service's samples loop).
    sample_buffer samples{500'000};

    // Sessions held by this instance, by host id. attach returns the session it replaced, if any.
    std::shared_ptr<agent_session> attach(std::int64_t host_id,
                                          const std::shared_ptr<agent_session>& session);
    void detach(std::int64_t host_id, const agent_session* session);
    std::vector<std::shared_ptr<agent_session>> sessions() const;

    // Hosts that sent something since the last flush, each with when its oldest unflushed
    // message was read (for the heartbeat lag).
    void touched(std::int64_t host_id);
    std::vector<std::pair<std::int64_t, std::chrono::steady_clock::time_point>> take_touched();

    // Consulted by the TLS handshake, so it must answer without a database round trip.
    void set_access(access_snapshot snapshot);
    // Until the first snapshot is loaded every certificate is refused: a revoked one must not
    // slip in while the coordinator starts.
    bool refused(std::int64_t host_id, const std::string& serial) const;

  private:
    mutable std::mutex mutex_;
    std::map<std::int64_t, std::weak_ptr<agent_session>> sessions_;
    std::map<std::int64_t, std::chrono::steady_clock::time_point> touched_;
    access_snapshot access_;
    bool access_loaded_ = false;
};

}  // namespace vpsfleet::fleet
