#include "coordinator/billing/autorecharge.hpp"

#include "common/log.hpp"
#include "coordinator/billing/money.hpp"
#include "coordinator/billing/topups.hpp"
#include "coordinator/mail/outbox.hpp"

#include <string>
#include <vector>

namespace vpsfleet::billing {

namespace {

// The idempotency_key of an auto-recharge's payment row starts with this.
constexpr const char* k_key_prefix = "autorecharge-";

struct due_account {
    std::int64_t user_id = 0;
    std::int64_t amount = 0;
    std::string currency;
    std::string customer;
    std::string card;
    std::string email;
};

std::vector<due_account> due_accounts(pqxx::connection& conn, std::chrono::seconds retry_after) {
    pqxx::read_transaction tx(conn);
    std::vector<due_account> out;
    for (const auto& r : tx.exec_params(
             "SELECT c.user_id, c.autorecharge_amount, c.currency, c.provider_customer_id, "
             "c.default_payment_method, u.email FROM credit_accounts c "
             "JOIN users u ON u.id = c.user_id "
             "WHERE c.autorecharge_enabled AND c.balance <= c.autorecharge_trigger "
             "AND c.provider_customer_id IS NOT NULL AND c.default_payment_method IS NOT NULL "
             "AND u.status = 'active' AND NOT EXISTS (SELECT 1 FROM payments p "
             "  WHERE p.user_id = c.user_id AND p.purpose = 'topup' "
             "  AND p.idempotency_key LIKE 'autorecharge-%' "
             "  AND ((p.status = 'pending' AND p.external_id IS NOT NULL AND p.expires_at > now()) "
             "       OR (p.status = 'failed' AND p.created_at > now() - $1 * interval '1 "
             "second'))) "
             "ORDER BY c.user_id",
             static_cast<std::int64_t>(retry_after.count()))) {
        out.push_back({r[0].as<std::int64_t>(), r[1].as<std::int64_t>(), r[2].as<std::string>(),
                       r[3].as<std::string>(), r[4].as<std::string>(), r[5].as<std::string>()});
    }
    return out;
}

// One account: the pending row first (its uid keys the provider call), then the charge.
// Returns "charged", "pending" or "failed"; "" when another coordinator took the account first.
std::string recharge(pqxx::connection& conn, payment_provider& pay, const due_account& a) {
    pending_topup topup;
    {
        pqxx::work tx(conn);
        // Serialises coordinators on the account; the check above is read again under the lock.
        const auto due = tx.exec_params(
            "SELECT 1 FROM credit_accounts WHERE user_id = $1 AND autorecharge_enabled "
            "AND balance <= autorecharge_trigger FOR UPDATE",
            a.user_id);
        if (due.empty()) return "";
        const auto open = tx.exec_params(
            "SELECT id, uid, external_id IS NULL FROM payments WHERE user_id = $1 "
            "AND purpose = 'topup' AND status = 'pending' AND idempotency_key LIKE "
            "'autorecharge-%' AND expires_at > now() ORDER BY id DESC LIMIT 1",
            a.user_id);
        if (!open.empty()) {
            // Sent, and the provider's answer is awaited (its webhook settles it).
            if (!open[0][2].as<bool>()) return "";
            // Never answered (a timeout): asked again with the same key, so it is charged once.
            topup = {open[0][0].as<std::int64_t>(), open[0][1].as<std::string>()};
        } else {
            topup = create_pending_topup(tx, a.user_id, "stripe", a.amount, a.currency);
            tx.exec_params("UPDATE payments SET idempotency_key = $2 WHERE id = $1", topup.id,
                           k_key_prefix + topup.uid);
        }
        tx.commit();
    }
    intent_request ask;
    ask.customer_id = a.customer;
    ask.amount = a.amount;
    ask.currency = a.currency;
    ask.payment_method = a.card;
    ask.confirm = true;
    ask.off_session = true;
    ask.description = "Credit auto-recharge";
    ask.metadata = {{"payment", topup.uid}, {"user", std::to_string(a.user_id)}};
    std::string refusal;
    payment_intent intent;
    try {
        intent = pay.create_payment_intent(ask, k_key_prefix + topup.uid);
    } catch (const payment_error& e) {
        // Unanswered: the row stays pending without an intent, and the next sweep asks again.
        if (e.retryable() && e.payment_intent_id.empty()) throw;
        refusal = e.what();
        intent.id = e.payment_intent_id;
    }
    pqxx::work tx(conn);
    if (!intent.id.empty()) attach_external_id(tx, topup.id, intent.id);
    std::string outcome = "pending";
    if (refusal.empty() && intent.status == "succeeded") {
        settle_topup(tx, "stripe", intent.id, intent.amount, intent.currency);
        outcome = "charged";
    } else if (!refusal.empty() || intent.status == "requires_payment_method" ||
               intent.status == "canceled") {
        if (refusal.empty()) refusal = intent.last_error_message;
        tx.exec_params("UPDATE payments SET status = 'failed', failure = $2 WHERE id = $1",
                       topup.id, refusal);
        mail::enqueue(tx, a.email, "Your automatic top-up did not go through",
                      "We tried to top up your credits by " + format_money(a.amount, a.currency) +
                          " from your saved card, and the card was refused: " + refusal +
                          "\nPlease top up by hand or update your card, so your servers keep "
                          "renewing.\n");
        outcome = "failed";
    }
    tx.commit();
    return outcome;
}

}  // namespace

autorecharge_report run_autorecharge(pqxx::connection& conn, payment_provider& pay,
                                     std::chrono::seconds retry_after) {
    autorecharge_report report;
    for (const auto& account : due_accounts(conn, retry_after)) {
        try {
            const auto outcome = recharge(conn, pay, account);
            if (outcome == "charged") ++report.charged;
            if (outcome == "pending") ++report.pending;
            if (outcome == "failed") ++report.failed;
        } catch (const std::exception& e) {
            log::warn("auto-recharge failed", {{"user", account.user_id}, {"error", e.what()}});
        }
    }
    return report;
}

}  // namespace vpsfleet::billing
