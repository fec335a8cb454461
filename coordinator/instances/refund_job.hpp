#pragma once
// billing.refund (LNVPS POST /vms/{id}/refund): credits the VM's owner the pro-rata value of the
// paid time after `from` and ends the VM's paid time there, in one transaction with the job's
// completion; the expiry sweep then stops the VM and, after the grace, deletes it. Running it
// twice refunds nothing the second time (each payment remembers what it gave back).
#include "coordinator/jobs/job_runner.hpp"

#include <pqxx/pqxx>

#include <cstdint>
#include <optional>
#include <string>

namespace vpsfleet::instances {

inline constexpr const char* k_refund_kind = "billing.refund";

// args: instance_id, from (unix seconds), reason.
void add_refund_job_handler(jobs::job_runner& runner);

}  // namespace vpsfleet::instances
