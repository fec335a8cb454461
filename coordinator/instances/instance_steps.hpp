#pragma once
// What the instance jobs' steps share: the instance as a step reads it, its error recorded apart
// from the step's transaction, and the timeouts of the fleet commands they send.
#include "coordinator/jobs/job_runner.hpp"

#include <pqxx/pqxx>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace vpsfleet::instances {

inline constexpr std::int64_t k_gib = 1024LL * 1024 * 1024;
// Building a root disk from an image can take a while on a real host.
inline constexpr std::chrono::milliseconds k_define_timeout = std::chrono::minutes(5);
inline constexpr std::chrono::milliseconds k_power_timeout = std::chrono::minutes(2);

struct instance_row {
    std::int64_t id = 0;
    std::string uid;
    std::optional<std::int64_t> host_id;
    std::optional<std::int64_t> allocation_id;
    std::string libvirt_uuid;
    std::string mac;
};

std::int64_t instance_id(const jobs::step_context& ctx);

// Read on the control connection, in a transaction that ends before any fleet command is sent.
instance_row read_instance(pqxx::connection& conn, std::int64_t id);

// Committed at once, apart from the step's transaction (which the failure rolls back). `broken`
// also puts the instance in status error.
void record_error(pqxx::connection& conn, std::int64_t id, const std::string& code,
                  const std::string& message, bool broken);

}  // namespace vpsfleet::instances
