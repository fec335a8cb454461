#pragma once
// Prometheus metrics of the coordinator's end of the fleet link.
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <string>

namespace vpsfleet::fleet {

struct fleet_metrics {
    explicit fleet_metrics(prometheus::Registry& registry);

    void message(const std::string& direction, const std::string& type) {
        messages.Add({{"direction", direction}, {"type", type}}).Increment();
    }
    void handshake_failure(const std::string& reason) {
        handshake_failures.Add({{"reason", reason}}).Increment();
    }
    void enrollment(const std::string& outcome) {
        enrollments.Add({{"outcome", outcome}}).Increment();
    }
    void disconnect(const std::string& reason) {
        disconnects.Add({{"reason", reason}}).Increment();
    }

    void inventory(int added, int removed, int changed) {
        inventory_changes.Add({{"change", "added"}}).Increment(added);
        inventory_changes.Add({{"change", "removed"}}).Increment(removed);
        inventory_changes.Add({{"change", "changed"}}).Increment(changed);
    }
    void reconciled(const std::map<std::string, int>& found,
                    const std::map<std::string, int>& resolved) {
        for (const auto& [kind, n] : found) drift_found.Add({{"kind", kind}}).Increment(n);
        for (const auto& [kind, n] : resolved) drift_resolved.Add({{"kind", kind}}).Increment(n);
    }
    // Submission to first result, by command kind and outcome.
    void command_done(const std::string& kind, bool ok, double seconds);
    // Usage samples by outcome: stored, refused (unusable), dropped (buffer full), failed (write).
    void samples_counted(const std::string& outcome, std::size_t n) {
        if (n > 0) samples.Add({{"outcome", outcome}}).Increment(static_cast<double>(n));
    }

    prometheus::Gauge& connected_agents;
    prometheus::Gauge& send_queue_depth;  // messages waiting, summed over all sessions
    prometheus::Family<prometheus::Counter>& messages;
    prometheus::Family<prometheus::Counter>& handshake_failures;
    prometheus::Family<prometheus::Counter>& enrollments;
    prometheus::Family<prometheus::Counter>& disconnects;
    prometheus::Family<prometheus::Histogram>& command_latency;
    prometheus::Family<prometheus::Counter>& inventory_changes;
    prometheus::Family<prometheus::Counter>& drift_found;
    prometheus::Family<prometheus::Counter>& drift_resolved;
    prometheus::Family<prometheus::Counter>& samples;
    // From reading a host's message off its link to its liveness committed to PostgreSQL (the
    // liveness flush runs every fleet.heartbeat, so that bounds it from below).
    prometheus::Histogram& heartbeat_lag;
};

}  // namespace vpsfleet::fleet
