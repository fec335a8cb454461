#pragma once
// Prepaid VMs (LNVPS): a VM is paid a period of its template's cost plan at a time, from its
// owner's credits; each period paid is a payment (method credits) with the VM time it bought, and
// moves the VM's expires_at. Everything happens inside the caller's transaction.
#include "coordinator/billing/periods.hpp"
#include "coordinator/billing/tax.hpp"

#include <pqxx/pqxx>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vpsfleet::billing {

struct period_price {
    std::int64_t amount = 0;  // minor units of currency
    std::string currency;
    billing_interval interval;
};

// The plan's cost plan. Throws billing_error plan_unpriced when the plan has none.
period_price price_of_plan(pqxx::transaction_base& tx, std::int64_t plan_id);

// A paid period's invoice has this idempotency key followed by the period's payment uid: how a
// payment finds its invoice.
inline constexpr std::string_view k_period_invoice_key = "vm-period:";

struct paid_period {
    std::string payment_uid;  // empty for a free plan: nothing was charged or invoiced
    std::string invoice_uid;
    std::int64_t amount = 0;  // charged: the period's price plus tax
    std::string currency;
    time_point period_start;
    time_point period_end;  // the VM's new expires_at
    std::int64_t balance_after = 0;
};

// Charges one period to the owner of the instance (opening their account in
// `new_account_currency` if they have none) and moves the instance's expires_at to the period's
// end. The period starts at the current expiry, or now when there is none or it has passed.
// The charge is the plan's price plus the tax of the owner's country (`taxes`), with an invoice
// for it, issued and paid. Locks the instance and the credit account. Throws billing_error
// (insufficient_credit, currency_mismatch, plan_unpriced).
paid_period pay_period_from_credits(pqxx::work& tx, std::int64_t instance_id, time_point now,
                                    const std::string& new_account_currency,
                                    const std::string& note, const tax_rates& taxes = {});

struct refund_part {
    std::int64_t payment_id = 0;
    std::int64_t amount = 0;
};

struct refund_quote {
    std::int64_t amount = 0;
    std::string currency;
    std::vector<refund_part> parts;
};

// What is owed back for the VM time paid for after `from`: each paid renewal's pro-rata share of
// its period after `from`, less what was already refunded of it. Free time (an admin's extension)
// is not money and is not refunded.
refund_quote quote_refund(pqxx::transaction_base& tx, std::int64_t instance_id, time_point from);

// Credits the quote to the owner as one refund entry, records it on each payment, ends the VM's
// paid time at `from` and turns its auto-renewal off (so the expiry sweep stops it). Returns the
// entry's uid, or nullopt when nothing was owed (the paid time still ends at `from`).
std::optional<std::string> refund_to_credits(pqxx::work& tx, std::int64_t instance_id,
                                             time_point from, const std::string& reason);

// Moves a prepaid VM to another plan from `now`: the unused paid time of the old plan goes back to
// the owner's credits (refund_to_credits) and a new period of the new plan is paid from them
// (pay_period_from_credits), both in the caller's transaction, so a refused payment changes
// nothing. Time an admin gave for free ends at `now`. The VM's auto-renewal setting is kept.
paid_period switch_plan(pqxx::work& tx, std::int64_t instance_id, std::int64_t new_plan_id,
                        time_point now, const std::string& new_account_currency,
                        const tax_rates& taxes = {});

}  // namespace vpsfleet::billing
