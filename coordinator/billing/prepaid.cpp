#include "coordinator/billing/prepaid.hpp"

#include "coordinator/billing/billing_error.hpp"
#include "coordinator/billing/invoices.hpp"
#include "coordinator/billing/ledger.hpp"

#include <algorithm>

namespace vpsfleet::billing {

period_price price_of_plan(pqxx::transaction_base& tx, std::int64_t plan_id) {
    const auto rows = tx.exec_params(
        "SELECT c.amount, c.currency, c.interval_amount, c.interval_type "
        "FROM plans p JOIN cost_plans c ON c.id = p.cost_plan_id WHERE p.id = $1",
        plan_id);
    if (rows.empty()) throw billing_error("plan_unpriced", "The plan has no price");
    return {rows[0][0].as<std::int64_t>(),
            rows[0][1].as<std::string>(),
            {rows[0][2].as<int>(), rows[0][3].as<std::string>()}};
}

paid_period pay_period_from_credits(pqxx::work& tx, std::int64_t instance_id, time_point now,
                                    const std::string& new_account_currency,
                                    const std::string& note, const tax_rates& taxes) {
    const auto rows =
        tx.exec_params("SELECT p.owner_user_id, i.plan_id, " + micros_of("i.expires_at") +
                           ", u.country, pl.name, i.name FROM instances i "
                           "JOIN projects p ON p.id = i.project_id "
                           "JOIN users u ON u.id = p.owner_user_id "
                           "JOIN plans pl ON pl.id = i.plan_id "
                           "WHERE i.id = $1 FOR UPDATE OF i",
                       instance_id);
    if (rows.empty()) throw billing_error("instance_not_found", "No such VM");
    const auto& row = rows[0];
    const auto user_id = row[0].as<std::int64_t>();
    const period_price price = price_of_plan(tx, row[1].as<std::int64_t>());
    const time_point start =
        row[2].is_null() ? now : std::max(now, from_epoch_micros(row[2].as<std::int64_t>()));
    const time_point end = add_interval(start, price.interval);
    const auto account = open_account(tx, user_id, new_account_currency);

    paid_period paid{{}, {}, 0, price.currency, start, end, account.balance};
    if (price.amount > 0) {
        // A country that is not an ISO code (free text from a profile) taxes at the default.
        const std::optional<std::string> country =
            !row[3].is_null() && is_country_code(row[3].as<std::string>())
                ? std::optional(row[3].as<std::string>())
                : std::nullopt;
        paid.payment_uid =
            tx.exec1("SELECT replace(gen_random_uuid()::text, '-', '')")[0].as<std::string>();
        invoice_draft draft;
        draft.user_id = user_id;
        draft.currency = price.currency;
        draft.tax_country = country;
        draft.tax_rate_bp = taxes.rate_for(country);
        draft.lines.push_back({row[4].as<std::string>() + " server " + row[5].as<std::string>(), 1,
                               price.amount, "", instance_id, start, end});
        draft.period_start = start;
        draft.period_end = end;
        draft.idempotency_key = std::string(k_period_invoice_key) + paid.payment_uid;
        // Before its first placement a VM has no host: see company_of_instance for whose name.
        draft.seller_company_id = company_of_instance(tx, instance_id);
        const invoice bill = issue_invoice(tx, draft);
        paid.invoice_uid = bill.uid;
        paid.amount = bill.total;
        const auto payment_id =
            tx.exec_params1(
                  "INSERT INTO payments (uid, user_id, instance_id, purpose, method, amount, "
                  "currency, period_start, period_end, status, paid_at, external_id) "
                  "VALUES ($1, $2, $3, 'vm_renewal', 'credits', $4, $5, " +
                      sql_time(6) + ", " + sql_time(7) + ", 'paid', now(), $8) RETURNING id",
                  paid.payment_uid, user_id, instance_id, bill.total, price.currency,
                  epoch_micros(start), epoch_micros(end), bill.number)[0]
                .as<std::int64_t>();
        paid.balance_after = post(tx, {user_id, "charge", -bill.total, price.currency,
                                       note + " (" + bill.number + ")", instance_id, payment_id})
                                 .balance_after;
        mark_paid(tx, bill.id);
    }
    tx.exec_params("UPDATE instances SET expires_at = " + sql_time(2) +
                       ", expiry_notified_at = NULL, expired_at = NULL WHERE id = $1",
                   instance_id, epoch_micros(end));
    return paid;
}

refund_quote quote_refund(pqxx::transaction_base& tx, std::int64_t instance_id, time_point from) {
    refund_quote quote;
    for (const auto& r :
         tx.exec_params("SELECT id, amount, currency, refunded_amount, " +
                            micros_of("period_start") + ", " + micros_of("period_end") +
                            " FROM payments WHERE instance_id = $1 AND status = 'paid' "
                            "AND purpose = 'vm_renewal' AND period_end > " +
                            sql_time(2) + " ORDER BY id",
                        instance_id, epoch_micros(from))) {
        const auto owed =
            prorata(r[1].as<std::int64_t>(), from_epoch_micros(r[4].as<std::int64_t>()),
                    from_epoch_micros(r[5].as<std::int64_t>()), from) -
            r[3].as<std::int64_t>();
        const auto currency = r[2].as<std::string>();
        if (owed <= 0) continue;
        if (!quote.currency.empty() && quote.currency != currency) {
            throw billing_error("currency_mismatch", "The VM was paid in more than one currency");
        }
        quote.currency = currency;
        quote.amount += owed;
        quote.parts.push_back({r[0].as<std::int64_t>(), owed});
    }
    return quote;
}

std::optional<std::string> refund_to_credits(pqxx::work& tx, std::int64_t instance_id,
                                             time_point from, const std::string& reason) {
    const auto owner = tx.exec_params(
        "SELECT p.owner_user_id FROM instances i JOIN projects p ON p.id = i.project_id "
        "WHERE i.id = $1 FOR UPDATE OF i",
        instance_id);
    if (owner.empty()) throw billing_error("instance_not_found", "No such VM");
    const refund_quote quote = quote_refund(tx, instance_id, from);
    std::optional<std::string> entry_uid;
    if (quote.amount > 0) {
        for (const auto& part : quote.parts) {
            tx.exec_params(
                "UPDATE payments SET refunded_amount = refunded_amount + $2 WHERE id = $1",
                part.payment_id, part.amount);
        }
        const std::string note = reason.empty() ? "VM refund" : "VM refund: " + reason;
        entry_uid = post(tx, {owner[0][0].as<std::int64_t>(), "refund", quote.amount,
                              quote.currency, note, instance_id, quote.parts.back().payment_id})
                        .uid;
    }
    // A refunded VM is done with: it must not renew itself from the credits just returned.
    tx.exec_params(
        "UPDATE instances SET auto_renew = false, expires_at = CASE WHEN expires_at IS "
        "NULL OR expires_at > " +
            sql_time(2) + " THEN " + sql_time(2) + " ELSE expires_at END WHERE id = $1",
        instance_id, epoch_micros(from));
    return entry_uid;
}

paid_period switch_plan(pqxx::work& tx, std::int64_t instance_id, std::int64_t new_plan_id,
                        time_point now, const std::string& new_account_currency,
                        const tax_rates& taxes) {
    const auto before = tx.exec_params(
        "SELECT auto_renew, name FROM instances WHERE id = $1 FOR UPDATE", instance_id);
    if (before.empty()) throw billing_error("instance_not_found", "No such VM");
    const std::string name = before[0][1].as<std::string>();
    refund_to_credits(tx, instance_id, now, "plan change of " + name);
    tx.exec_params("UPDATE instances SET plan_id = $2, auto_renew = $3 WHERE id = $1", instance_id,
                   new_plan_id, before[0][0].as<bool>());
    return pay_period_from_credits(tx, instance_id, now, new_account_currency,
                                   "Plan change of " + name, taxes);
}

}  // namespace vpsfleet::billing
