#pragma once
// The prepaid life of a VM after it is paid for, checked every billing.sweep_interval by each
// coordinator (the steps lock the instance row, so several coordinators never act twice):
//   1. renew: a VM that auto-renews, within renew_before of its expiry (or already expired and
//      still in grace), is paid another period from its owner's credits; an expired one is
//      started again.
//   2. notify: a VM within notify_before of expiry that will not renew (auto-renew off, or too
//      little credit) gets one mail to its owner.
//   3. expire: a VM past its expiry is marked expired and stopped on its host (an instance.power
//      job); the owner is told when it will be deleted.
//   4. delete: a VM expired for longer than the grace is deleted (an instance.delete job).
//   5. alerts: an owner whose balance fell to or below a billing alert's threshold gets one mail;
//      the alert re-arms once the balance is above it again.
//   6. suspension: a running VM of a suspended account is stopped (an instance.power job).
// Steps 1-4 run only with prepaid billing; 5 and 6 always.
// Each step is one transaction per VM; a step that cannot run now (another job holds the VM)
// leaves the VM as it was, and the next sweep tries again.
#include "coordinator/billing/periods.hpp"
#include "coordinator/billing/tax.hpp"

#include <pqxx/pqxx>

#include <chrono>
#include <cstdint>
#include <string>

namespace vpsfleet::instances {

struct expiry_settings {
    bool prepaid = true;
    std::string currency = "DKK";  // for credit accounts opened by a renewal
    std::chrono::milliseconds renew_before{24 * 3'600'000LL};
    std::chrono::milliseconds notify_before{3 * 24 * 3'600'000LL};
    std::chrono::milliseconds grace{7 * 24 * 3'600'000LL};
    std::string public_url;  // named in mails
    billing::tax_rates taxes;
};

struct expiry_report {
    int renewed = 0;
    int renew_failed = 0;
    int notified = 0;
    int expired = 0;
    int deleted = 0;
    int alerts = 0;
    int suspended_stopped = 0;
};

expiry_report sweep_expiry(pqxx::connection& conn, const expiry_settings& settings,
                           billing::time_point now);

// Step 6 for one account, in the caller's transaction (the admin API suspending it): queues a
// stop for each of its running VMs that no other operation holds; returns how many.
int stop_vms_of_suspended(pqxx::work& tx, std::int64_t user_id);

// Step 5 alone; returns the number of mails queued.
int fire_balance_alerts(pqxx::connection& conn, const expiry_settings& settings);

}  // namespace vpsfleet::instances
