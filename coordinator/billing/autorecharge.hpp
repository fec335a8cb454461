#pragma once
// Auto-recharge (Suble billing/settings): an account that has it enabled and whose balance is at
// or below its trigger is topped up by its amount from its default saved card, off-session,
// through the payment provider, as a top-up (topups.hpp) whose settlement credits the ledger once
// whether the provider's answer or its webhook comes first. An account has at most one attempt
// pending; after a refused charge it waits `retry_after` before the next, and its owner is mailed
// the provider's reason. Blocking: run it on a worker thread.
#include "coordinator/billing/payment_provider.hpp"

#include <pqxx/pqxx>

#include <chrono>

namespace vpsfleet::billing {

struct autorecharge_report {
    int charged = 0;  // credited now
    int pending = 0;  // the provider has not said yet (its webhook will)
    int failed = 0;   // refused; the owner was mailed
};

autorecharge_report run_autorecharge(pqxx::connection& conn, payment_provider& pay,
                                     std::chrono::seconds retry_after);

}  // namespace vpsfleet::billing
