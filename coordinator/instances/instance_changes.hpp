#pragma once
// Changes to a built instance, as the jobs the customer API enqueues once the instance is idle
// (running or stopped) and its records are changed:
// - instance.resize: the instance's plan (already switched, its reservation grown) reaches the
//   host: a running guest is shut down, resized and started again (started again too if the
//   resize fails).
// - instance.rebuild: a new root disk from the instance's image (already switched), the same MAC
//   and addresses, first-boot cloud-init again with the instance's keys and password.
// - instance.reset_password: the instance's new password (already stored) set through the guest
//   agent, as a SHA-512 crypt hash.
// A failed change records its error on the instance; the records keep what was asked, so asking
// again applies it.
#include "coordinator/instances/instance_requests.hpp"
#include "coordinator/ipam/allocator.hpp"
#include "coordinator/jobs/job_runner.hpp"

#include <string_view>

namespace vpsfleet::instances {

inline constexpr const char* k_resize_kind = "instance.resize";
inline constexpr const char* k_rebuild_kind = "instance.rebuild";
inline constexpr const char* k_reset_password_kind = "instance.reset_password";

// Suble's IDLE_FOR_OPS: resize, rebuild and password resets need a running or stopped instance.
bool idle_for_ops(std::string_view status);

std::optional<jobs::enqueued_job> request_resize(pqxx::work& tx,
                                                 std::optional<std::int64_t> user_id,
                                                 const instance_ref& instance);
// `start`: whether the rebuilt VM is started (it was running before).
std::optional<jobs::enqueued_job> request_rebuild(pqxx::work& tx,
                                                  std::optional<std::int64_t> user_id,
                                                  const instance_ref& instance, bool start);
std::optional<jobs::enqueued_job> request_password_reset(pqxx::work& tx,
                                                         std::optional<std::int64_t> user_id,
                                                         const instance_ref& instance);

// `addressing.keys` opens the stored passwords; without keys the jobs set none.
void add_instance_change_handlers(jobs::job_runner& runner, const ipam::settings& addressing = {});

}  // namespace vpsfleet::instances
