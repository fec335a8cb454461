#pragma once
// billing.refund (LNVPS POST /vms/{id}/refund): credits the VM's owner the pro-rata value of the
// paid time after `from` and ends the VM's paid time there, in one transaction with the job's
// completion; the expiry sweep then stops the VM and, after the grace, deletes it. Running it
// twice refunds nothing the second time (each payment remembers what it gave back).
//
// billing.card_refund (payment_method stripe): the same amount back to the card the owner's
// credits were bought with (billing/card_refunds.hpp). Step "plan" writes the refunds to make and
// ends the paid time; step "issue" asks the provider for each, with the idempotency key planned,
// recording every answer at once. A provider that may succeed later (timeout, 5xx) makes the job
// run again later and carry on where it stopped; a refusal fails the job with the provider's error,
// and the refunds already made stay made while the rest is given back to the VM's payments.
#include "coordinator/billing/payment_provider.hpp"
#include "coordinator/jobs/job_runner.hpp"

#include <pqxx/pqxx>

#include <cstdint>
#include <optional>
#include <string>

namespace vpsfleet::instances {

inline constexpr const char* k_refund_kind = "billing.refund";
inline constexpr const char* k_card_refund_kind = "billing.card_refund";

// args (both kinds): instance_id, from (unix seconds), reason. `payments` may be null (no
// provider configured): card refunds then fail.
void add_refund_job_handler(jobs::job_runner& runner, billing::payment_provider* payments);

}  // namespace vpsfleet::instances
