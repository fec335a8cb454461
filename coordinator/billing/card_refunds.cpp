#include "coordinator/billing/card_refunds.hpp"

#include "coordinator/billing/billing_error.hpp"
#include "coordinator/billing/ledger.hpp"
#include "coordinator/billing/money.hpp"
#include "coordinator/mail/outbox.hpp"

#include <algorithm>

namespace vpsfleet::billing {

namespace {

using json = nlohmann::json;

// The owner's card top-ups with money left to refund, newest first.
const char* const k_refundable_topups =
    "SELECT id, uid, external_id, amount - refunded_amount FROM payments "
    "WHERE user_id = $1 AND currency = $2 AND purpose = 'topup' AND method = 'stripe' "
    "AND status = 'paid' AND external_id IS NOT NULL AND refunded_amount < amount "
    "ORDER BY paid_at DESC, id DESC";

std::int64_t owner_of(pqxx::transaction_base& tx, std::int64_t instance_id) {
    const auto rows = tx.exec_params(
        "SELECT p.owner_user_id FROM instances i JOIN projects p ON p.id = i.project_id "
        "WHERE i.id = $1",
        instance_id);
    if (rows.empty()) throw billing_error("instance_not_found", "No such VM");
    return rows[0][0].as<std::int64_t>();
}

bool is_refund_status(const std::string& s) {
    return s == "pending" || s == "requires_action" || s == "succeeded" || s == "failed" ||
           s == "canceled";
}

void set_history_note(pqxx::work& tx, const std::string& note) {
    tx.exec_params("SELECT set_config('vpsfleet.history_note', $1, true)", note);
}

bool gave_up(const std::string& status) { return status == "failed" || status == "canceled"; }

// The amount of a card refund that never reached the card goes to the owner's credits, once,
// and the owner is told why.
void credit_owner(pqxx::work& tx, const std::string& uid, const std::string& why) {
    const auto r = tx.exec_params1(
        "SELECT r.user_id, r.instance_id, r.amount, r.currency, u.email "
        "FROM provider_refunds r JOIN users u ON u.id = r.user_id WHERE r.uid = $1",
        uid);
    const auto user_id = r[0].as<std::int64_t>();
    const auto amount = r[2].as<std::int64_t>();
    const auto currency = r[3].as<std::string>();
    open_account(tx, user_id, currency);
    post(tx, {user_id, "refund", amount, currency,
              "card refund " + uid + " " + why + ", returned as credits", r[1].as<std::int64_t>(),
              std::nullopt, "card-refund-returned-" + uid});
    mail::enqueue(tx, r[4].as<std::string>(), "Your refund was added to your credits",
                  "We refunded " + format_money(amount, currency) +
                      " to your card, and the card's bank did not take it (" + why +
                      "). The amount is now in your credits, where you can use it or ask us "
                      "to pay it out another way.\n");
}

// A card refund the provider gave up on, even after it had succeeded (a closed card account):
// the money is back with us, not on the card. The top-up it was taken from can be refunded
// again, and the amount goes to the owner's credits.
void return_to_credits(pqxx::work& tx, const std::string& uid, const std::string& why) {
    tx.exec_params(
        "UPDATE payments p SET refunded_amount = p.refunded_amount - r.amount "
        "FROM provider_refunds r WHERE r.uid = $1 AND p.id = r.payment_id",
        uid);
    credit_owner(tx, uid, why);
}

// Writes what the provider says of the refund row `where` ($1: key) picks; false when none.
// Money whose refund failed goes to credits.
bool set_refund_status(pqxx::work& tx, const std::string& where, const std::string& key,
                       const std::optional<std::string>& external_id, const std::string& status,
                       const std::string& failure) {
    const auto rows = tx.exec_params(
        "WITH old AS (SELECT id, status FROM provider_refunds WHERE " + where +
            " FOR UPDATE) "
            "UPDATE provider_refunds r SET external_id = coalesce($2, r.external_id), status = $3, "
            "failure = CASE WHEN $3 IN ('failed', 'canceled') THEN coalesce(nullif($4, ''), "
            "r.failure) ELSE NULL END, updated_at = now() FROM old WHERE r.id = old.id "
            "RETURNING r.uid, old.status",
        key, external_id, status, failure);
    for (const auto& row : rows) {
        if (gave_up(status) && !gave_up(row[1].as<std::string>()))
            return_to_credits(tx, row[0].as<std::string>(),
                              failure.empty() ? status : status + ": " + failure);
    }
    return !rows.empty();
}

}  // namespace

card_refund_quote quote_card_refund(pqxx::transaction_base& tx, std::int64_t instance_id,
                                    time_point from) {
    card_refund_quote q;
    const auto owner = owner_of(tx, instance_id);
    q.owed = quote_refund(tx, instance_id, from);
    if (q.owed.amount > 0) {
        for (const auto& r : tx.exec_params(k_refundable_topups, owner, q.owed.currency)) {
            q.refundable += r[3].as<std::int64_t>();
        }
    }
    return q;
}

std::string not_covered_message(const card_refund_quote& q) {
    return "The VM's unused time is worth " + format_money(q.owed.amount, q.owed.currency) +
           " but its owner's card payments can refund only " +
           format_money(q.refundable, q.owed.currency) +
           " (the rest of the credits did not come from a card); refund as credits instead";
}

json to_json(const card_refund_plan& plan) {
    json parts = json::array();
    for (const auto& p : plan.parts)
        parts.push_back({{"payment_id", p.payment_id}, {"amount", p.amount}});
    json refunds = json::array();
    for (const auto& r : plan.refunds) {
        refunds.push_back({{"id", r.uid},
                           {"payment_intent", r.payment_intent},
                           {"amount", r.amount},
                           {"currency", r.currency}});
    }
    return {{"amount", plan.amount},
            {"currency", plan.currency.empty() ? json(nullptr) : json(plan.currency)},
            {"parts", parts},
            {"refunds", refunds},
            {"previous_expires_micros",
             plan.previous_expires_micros ? json(*plan.previous_expires_micros) : json(nullptr)},
            {"previous_auto_renew", plan.previous_auto_renew}};
}

card_refund_plan plan_from_json(const json& j) {
    card_refund_plan plan;
    plan.amount = j.at("amount").get<std::int64_t>();
    plan.currency = j.at("currency").is_string() ? j.at("currency").get<std::string>() : "";
    for (const auto& p : j.at("parts")) {
        plan.parts.push_back(
            {p.at("payment_id").get<std::int64_t>(), p.at("amount").get<std::int64_t>()});
    }
    for (const auto& r : j.at("refunds")) {
        plan.refunds.push_back({r.at("id").get<std::string>(),
                                r.at("payment_intent").get<std::string>(),
                                r.at("amount").get<std::int64_t>(),
                                r.at("currency").get<std::string>(),
                                {}});
    }
    if (j.at("previous_expires_micros").is_number()) {
        plan.previous_expires_micros = j.at("previous_expires_micros").get<std::int64_t>();
    }
    plan.previous_auto_renew = j.at("previous_auto_renew").get<bool>();
    return plan;
}

card_refund_plan plan_card_refund(pqxx::work& tx, std::int64_t instance_id, time_point from,
                                  const std::string& job_uid, const std::string& reason) {
    const auto vm = tx.exec_params(
        "SELECT p.owner_user_id, i.auto_renew, " + micros_of("i.expires_at") +
            " FROM instances i JOIN projects p ON p.id = i.project_id WHERE i.id = $1 "
            "FOR UPDATE OF i",
        instance_id);
    if (vm.empty()) throw billing_error("instance_not_found", "No such VM");
    const auto owner = vm[0][0].as<std::int64_t>();
    card_refund_plan plan;
    plan.previous_auto_renew = vm[0][1].as<bool>();
    if (!vm[0][2].is_null()) plan.previous_expires_micros = vm[0][2].as<std::int64_t>();

    const refund_quote owed = quote_refund(tx, instance_id, from);
    plan.amount = owed.amount;
    plan.currency = owed.currency;
    plan.parts = owed.parts;
    if (owed.amount > 0) {
        // Locked, so a concurrent refund for another of the owner's VMs waits and then sees what
        // this one took.
        const auto topups =
            tx.exec_params(std::string(k_refundable_topups) + " FOR UPDATE", owner, owed.currency);
        std::int64_t refundable = 0;
        for (const auto& r : topups) refundable += r[3].as<std::int64_t>();
        if (refundable < owed.amount) {
            throw billing_error("refund_not_covered", not_covered_message({owed, refundable}));
        }
        std::int64_t left = owed.amount;
        for (const auto& r : topups) {
            if (left == 0) break;
            const auto take = std::min(left, r[3].as<std::int64_t>());
            const auto payment_id = r[0].as<std::int64_t>();
            card_refund refund{{},
                               r[2].as<std::string>(),
                               take,
                               owed.currency,
                               "vm-refund-" + job_uid + "-" + r[1].as<std::string>()};
            refund.uid = tx.exec_params1(
                               "INSERT INTO provider_refunds (job_uid, user_id, instance_id, "
                               "payment_id, provider, amount, currency, idempotency_key) "
                               "VALUES ($1, $2, $3, $4, 'stripe', $5, $6, $7) RETURNING uid",
                               job_uid, owner, instance_id, payment_id, take, owed.currency,
                               refund.idempotency_key)[0]
                             .as<std::string>();
            tx.exec_params(
                "UPDATE payments SET refunded_amount = refunded_amount + $2 WHERE id = $1",
                payment_id, take);
            plan.refunds.push_back(std::move(refund));
            left -= take;
        }
        for (const auto& part : owed.parts) {
            tx.exec_params(
                "UPDATE payments SET refunded_amount = refunded_amount + $2 WHERE id = $1",
                part.payment_id, part.amount);
        }
    }
    const std::string note =
        owed.amount > 0 ? "refund of " + format_money(owed.amount, owed.currency) + " to card"
                        : "refund to card, nothing owed";
    set_history_note(tx, reason.empty() ? note : note + " (" + reason + ")");
    // As refund_to_credits: the refunded VM must not renew itself.
    tx.exec_params(
        "UPDATE instances SET auto_renew = false, expires_at = CASE WHEN expires_at IS "
        "NULL OR expires_at > " +
            sql_time(2) + " THEN " + sql_time(2) + " ELSE expires_at END WHERE id = $1",
        instance_id, epoch_micros(from));
    return plan;
}

refund_answer request_card_refund(payment_provider& pay, const card_refund& r) {
    try {
        return {pay.create_refund(r.payment_intent, r.amount, "requested_by_customer",
                                  r.idempotency_key),
                std::nullopt};
    } catch (const payment_error& e) {
        return {std::nullopt, e};
    }
}

std::vector<card_refund> unissued_card_refunds(pqxx::transaction_base& tx,
                                               const std::string& job_uid) {
    std::vector<card_refund> out;
    for (const auto& r :
         tx.exec_params("SELECT r.uid, p.external_id, r.amount, r.currency, r.idempotency_key "
                        "FROM provider_refunds r JOIN payments p ON p.id = r.payment_id "
                        "WHERE r.job_uid = $1 AND r.status = 'requested' ORDER BY r.id",
                        job_uid)) {
        out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::int64_t>(),
                       r[3].as<std::string>(), r[4].as<std::string>()});
    }
    return out;
}

void record_refund_issued(pqxx::work& tx, const std::string& uid, const refund& issued) {
    set_refund_status(tx, "uid = $1", uid, issued.id,
                      is_refund_status(issued.status) ? issued.status : "pending", "");
}

void record_refund_failed(pqxx::work& tx, const std::string& uid, const std::string& message,
                          bool definite) {
    if (!definite) {
        tx.exec_params(
            "UPDATE provider_refunds SET failure = $2, updated_at = now() WHERE uid = $1", uid,
            message);
        return;
    }
    tx.exec_params(
        "WITH r AS (UPDATE provider_refunds SET status = 'released', failure = $2, "
        "updated_at = now() WHERE uid = $1 AND status = 'requested' RETURNING payment_id, amount) "
        "UPDATE payments p SET refunded_amount = p.refunded_amount - r.amount FROM r "
        "WHERE p.id = r.payment_id",
        uid, message);
}

void undo_card_refund_plan(pqxx::work& tx, const std::string& job_uid, const card_refund_plan& plan,
                           std::int64_t instance_id) {
    // Never sent (no failure recorded): nothing can have been refunded.
    for (const auto& r : tx.exec_params(
             "SELECT uid FROM provider_refunds WHERE job_uid = $1 AND status = 'requested' "
             "AND failure IS NULL",
             job_uid)) {
        record_refund_failed(tx, r[0].as<std::string>(), "not sent: the refund job failed", true);
    }
    std::int64_t released = tx.exec_params1(
                                  "SELECT coalesce(sum(amount), 0) FROM provider_refunds "
                                  "WHERE job_uid = $1 AND status = 'released'",
                                  job_uid)[0]
                                .as<std::int64_t>();
    const bool nothing_refunded = released == plan.amount;
    for (auto part = plan.parts.rbegin(); part != plan.parts.rend() && released > 0; ++part) {
        const auto back = std::min(released, part->amount);
        tx.exec_params("UPDATE payments SET refunded_amount = refunded_amount - $2 WHERE id = $1",
                       part->payment_id, back);
        released -= back;
    }
    if (nothing_refunded) {
        set_history_note(tx, "card refund failed, paid time restored");
        tx.exec_params(
            "UPDATE instances SET auto_renew = $2, expires_at = " + sql_time(3) + " WHERE id = $1",
            instance_id, plan.previous_auto_renew, plan.previous_expires_micros);
    }
}

unanswered_refunds_report settle_unanswered_card_refunds(pqxx::connection& conn,
                                                         payment_provider& pay,
                                                         std::chrono::hours window) {
    std::vector<card_refund> todo;
    {
        pqxx::read_transaction tx(conn);
        for (const auto& r : tx.exec_params(
                 "SELECT r.uid, p.external_id, r.amount, r.currency, r.idempotency_key "
                 "FROM provider_refunds r JOIN payments p ON p.id = r.payment_id "
                 "JOIN jobs j ON j.uid = r.job_uid WHERE r.status = 'requested' "
                 "AND r.failure IS NOT NULL AND j.state IN ('failed', 'cancelled') "
                 "AND r.created_at > now() - make_interval(hours => $1) ORDER BY r.id LIMIT 100",
                 static_cast<int>(window.count()))) {
            todo.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::int64_t>(),
                            r[3].as<std::string>(), r[4].as<std::string>()});
        }
    }
    unanswered_refunds_report report;
    for (const auto& r : todo) {
        const refund_answer answer = request_card_refund(pay, r);
        pqxx::work tx(conn);
        // Another coordinator's sweep may have settled it meanwhile.
        if (tx.exec_params("SELECT 1 FROM provider_refunds WHERE uid = $1 AND status = "
                           "'requested' FOR UPDATE",
                           r.uid)
                .empty())
            continue;
        if (answer.issued) {
            record_refund_issued(tx, r.uid, *answer.issued);
            ++report.issued;
        } else if (!answer.failed->retryable()) {
            // Released: the top-up holds the amount no more; the owner gets it as credits.
            record_refund_failed(tx, r.uid, answer.failed->what(), true);
            credit_owner(tx, r.uid, std::string("refused: ") + answer.failed->what());
            ++report.returned;
        } else {
            record_refund_failed(tx, r.uid, answer.failed->what(), false);
            ++report.waiting;
        }
        tx.commit();
    }
    return report;
}

bool settle_card_refund(pqxx::work& tx, const std::string& provider, const std::string& external_id,
                        const std::string& status, const std::string& failure) {
    // Stripe is the only provider refunds go through (provider_refunds.provider says so).
    if (!is_refund_status(status) || provider != "stripe") return false;
    return set_refund_status(tx, "provider = 'stripe' AND external_id = $1", external_id,
                             std::nullopt, status, failure);
}

}  // namespace vpsfleet::billing
