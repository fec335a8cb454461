#pragma once
// firewall.sync: pushes an instance's whole rule set (enabled rules in position order), its MAC
// and its live addresses (vm_ip_assignments) to its host's agent as one vm.firewall command; the
// result records, per host, the rules in force and the filter's name. Every change to the rules
// enqueues one. Jobs of one instance apply one at a time (a transaction-scoped advisory lock held
// until the step commits), and each reads the rules when it runs, so the last to run carries the
// newest rules.
//
// Nothing to do, and the job completes saying why: the instance is not on a host yet, or its VM
// is not there yet while instance.create is still running (its own firewall step, between
// define and start, applies the rules it finds then), or it is being deleted.
#include "coordinator/jobs/job_runner.hpp"
#include "coordinator/jobs/job_store.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <cstdint>
#include <optional>
#include <string>

namespace vpsfleet::firewall {

inline constexpr const char* k_sync_kind = "firewall.sync";

void add_firewall_job_handlers(jobs::job_runner& runner);

// Enqueues firewall.sync for the instance in the caller's transaction.
jobs::enqueued_job enqueue_sync(pqxx::work& tx, std::int64_t instance_id,
                                const std::string& instance_uid, std::int64_t project_id,
                                std::optional<std::int64_t> user_id);

// instance.create's step between define and start: the rules the instance has by then, on the VM
// not started yet, so it never runs unfiltered. No rules: nothing is sent (a new VM has no
// filter).
nlohmann::json apply_on_create(jobs::step_context& ctx);

}  // namespace vpsfleet::firewall
