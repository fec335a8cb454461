#include "coordinator/fleet/fleet_metrics.hpp"

namespace vpsfleet::fleet {

fleet_metrics::fleet_metrics(prometheus::Registry& registry)
    : connected_agents(prometheus::BuildGauge()
                           .Name("vpsfleet_coordinator_fleet_connected_agents")
                           .Help("Agents holding a live link to this coordinator")
                           .Register(registry)
                           .Add({})),
      send_queue_depth(prometheus::BuildGauge()
                           .Name("vpsfleet_coordinator_fleet_send_queue_messages")
                           .Help("Messages queued for agents and not yet written, over all links")
                           .Register(registry)
                           .Add({})),
      messages(prometheus::BuildCounter()
                   .Name("vpsfleet_coordinator_fleet_messages_total")
                   .Help("Fleet protocol messages by direction (in, out) and type")
                   .Register(registry)),
      handshake_failures(prometheus::BuildCounter()
                             .Name("vpsfleet_coordinator_fleet_handshake_failures_total")
                             .Help("Agent connections refused, by reason")
                             .Register(registry)),
      enrollments(prometheus::BuildCounter()
                      .Name("vpsfleet_coordinator_fleet_enrollments_total")
                      .Help("Enrollment attempts by outcome (enrolled or the refusal code)")
                      .Register(registry)),
      disconnects(prometheus::BuildCounter()
                      .Name("vpsfleet_coordinator_fleet_disconnects_total")
                      .Help("Agent links closed, by reason")
                      .Register(registry)),
      command_latency(
          prometheus::BuildHistogram()
              .Name("vpsfleet_coordinator_fleet_command_duration_seconds")
              .Help("Time from a command's submission to its result, by kind and outcome")
              .Register(registry)),
      inventory_changes(
          prometheus::BuildCounter()
              .Name("vpsfleet_coordinator_fleet_inventory_changes_total")
              .Help("Guests that appeared on, vanished from or changed on their host, "
                    "as agents report them")
              .Register(registry)),
      drift_found(prometheus::BuildCounter()
                      .Name("vpsfleet_coordinator_drift_findings_total")
                      .Help("Reconciliation findings opened, by kind (missing, unmanaged, drift)")
                      .Register(registry)),
      drift_resolved(prometheus::BuildCounter()
                         .Name("vpsfleet_coordinator_drift_findings_resolved_total")
                         .Help("Reconciliation findings that stopped holding, by kind")
                         .Register(registry)),
      samples(prometheus::BuildCounter()
                  .Name("vpsfleet_coordinator_fleet_samples_total")
                  .Help("Usage samples from agents by outcome: stored, refused (unusable), "
                        "dropped (buffer full), failed (the write failed)")
                  .Register(registry)),
      heartbeat_lag(
          prometheus::BuildHistogram()
              .Name("vpsfleet_coordinator_fleet_heartbeat_lag_seconds")
              .Help("From reading a host's message off its link to its liveness "
                    "being committed to PostgreSQL")
              .Register(registry)
              .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.005, 0.01, 0.05, 0.1, 0.25,
                                                               0.5, 1, 2.5, 5, 10, 15, 30, 60})) {}

void fleet_metrics::command_done(const std::string& kind, bool ok, double seconds) {
    static const prometheus::Histogram::BucketBoundaries buckets{
        0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};
    command_latency.Add({{"kind", kind}, {"outcome", ok ? "ok" : "failed"}}, buckets)
        .Observe(seconds);
}

}  // namespace vpsfleet::fleet
