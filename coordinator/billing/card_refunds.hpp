#pragma once
// Refunding a prepaid VM's unused time to the card its owner paid with, instead of as credits.
// The VM was paid from credits, and the credits came from card top-ups (topups.hpp): the refund
// goes back through the provider against those top-ups, newest first, as many as it takes. A
// refund the top-ups cannot cover (the credits came from promo codes or bank transfers) is
// refused as a whole.
//
// Three moves, each inside the caller's transaction, so a job can put the provider calls between
// them: plan (rows in provider_refunds with their idempotency keys, the top-ups' refunded_amount
// holding them, the VM's paid time ended as refund_to_credits does), record what the provider
// answered for each row, and undo (the rows never issued give their amount back, to the top-up
// and to the VM's payments).
#include "coordinator/billing/payment_provider.hpp"
#include "coordinator/billing/prepaid.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vpsfleet::billing {

struct card_refund_quote {
    refund_quote owed;            // quote_refund
    std::int64_t refundable = 0;  // what the owner's card top-ups in owed.currency can give back
    bool covered() const { return owed.amount <= refundable; }
};

card_refund_quote quote_card_refund(pqxx::transaction_base& tx, std::int64_t instance_id,
                                    time_point from);

// The message for a refund the card top-ups cannot cover.
std::string not_covered_message(const card_refund_quote& q);

struct card_refund {
    std::string uid;             // rfd_...
    std::string payment_intent;  // the top-up's pi_...
    std::int64_t amount = 0;
    std::string currency;
    std::string idempotency_key;
};

// What plan_card_refund did, kept (as JSON) by the job so undo can reverse it.
struct card_refund_plan {
    std::int64_t amount = 0;
    std::string currency;
    std::vector<refund_part> parts;  // of the VM's renewal payments, as quote_refund gave them
    std::vector<card_refund> refunds;
    std::optional<std::int64_t> previous_expires_micros;
    bool previous_auto_renew = true;
};

nlohmann::json to_json(const card_refund_plan& plan);
card_refund_plan plan_from_json(const nlohmann::json& j);

// Locks the VM, quotes from `from` and spreads the amount over the owner's card top-ups, newest
// first; idempotency keys are "vm-refund-<job_uid>-<top-up uid>". Throws billing_error
// instance_not_found, currency_mismatch, refund_not_covered (nothing written).
card_refund_plan plan_card_refund(pqxx::work& tx, std::int64_t instance_id, time_point from,
                                  const std::string& job_uid, const std::string& reason);

// What the provider answered to one refund request: the refund it made, or why not.
struct refund_answer {
    std::optional<refund> issued;
    std::optional<payment_error> failed;
};
// Asks the provider for `r` with the row's own idempotency key. Blocking.
refund_answer request_card_refund(payment_provider& pay, const card_refund& r);

// The job's rows the provider has not answered yet, oldest first.
std::vector<card_refund> unissued_card_refunds(pqxx::transaction_base& tx,
                                               const std::string& job_uid);

void record_refund_issued(pqxx::work& tx, const std::string& uid, const refund& issued);
// `definite`: the provider refused (nothing was refunded): the row is released at once. Otherwise
// the provider may have acted; the row keeps its amount and is asked again with the same key.
void record_refund_failed(pqxx::work& tx, const std::string& uid, const std::string& message,
                          bool definite);

// Releases the job's rows never sent, then gives every released row's amount back to the VM's
// payments; when nothing at all was refunded the VM's paid time and auto-renewal are restored.
// Rows the provider may have acted on stay as they are (never refunded twice).
void undo_card_refund_plan(pqxx::work& tx, const std::string& job_uid, const card_refund_plan& plan,
                           std::int64_t instance_id);

// The refunds a job left unanswered (its provider calls timed out or failed on the provider's
// side until the job ran out of attempts; the provider may or may not have acted). Each is asked
// again with its own idempotency key, which gives back the refund the provider made or makes it
// now: never twice. Within `window` of the request only, as the provider forgets keys after a
// day. A provider that refuses outright made no refund: the amount goes to the owner's credits.
// Blocking: run it on a worker thread.
struct unanswered_refunds_report {
    int issued = 0;    // the provider answered with its refund
    int returned = 0;  // refused: returned as credits
    int waiting = 0;   // still no answer; asked again at the next sweep
};
unanswered_refunds_report settle_unanswered_card_refunds(pqxx::connection& conn,
                                                         payment_provider& pay,
                                                         std::chrono::hours window);

// A provider event about refund `external_id` (Stripe's refund.updated); false when no row has it.
bool settle_card_refund(pqxx::work& tx, const std::string& provider, const std::string& external_id,
                        const std::string& status, const std::string& failure);

}  // namespace vpsfleet::billing
