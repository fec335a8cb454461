#include "coordinator/instances/expiry_sweep.hpp"

#include "common/log.hpp"
#include "coordinator/billing/billing_error.hpp"
#include "coordinator/billing/ledger.hpp"
#include "coordinator/billing/money.hpp"
#include "coordinator/billing/prepaid.hpp"
#include "coordinator/instances/instance_requests.hpp"
#include "coordinator/mail/outbox.hpp"
#include "coordinator/store/sql.hpp"

#include <functional>
#include <vector>

namespace vpsfleet::instances {

namespace {

using std::chrono::microseconds;

const std::string k_now = billing::sql_time(1);
const std::string k_live = "i.deleted_at IS NULL AND i.status NOT IN ('deleting', 'deleted') ";

// One VM a step may act on, read again under its row lock.
struct candidate {
    instance_ref ref;
    std::string name;
    std::string status;
    std::string expires;  // ISO 8601
    std::int64_t plan_id = 0;
    std::int64_t owner = 0;
    std::string owner_email;
};

std::vector<std::int64_t> ids_where(pqxx::connection& conn, const std::string& condition,
                                    std::int64_t now, std::int64_t window_us) {
    pqxx::read_transaction tx(conn);
    std::vector<std::int64_t> ids;
    for (const auto& r : tx.exec_params("SELECT i.id FROM instances i WHERE " + k_live + "AND " +
                                            condition + " ORDER BY i.expires_at LIMIT 500",
                                        now, window_us)) {
        ids.push_back(r[0].as<std::int64_t>());
    }
    return ids;
}

std::optional<candidate> lock(pqxx::work& tx, std::int64_t id, const std::string& condition,
                              std::int64_t now, std::int64_t window_us) {
    const auto rows = tx.exec_params(
        "SELECT i.id, i.uid, i.project_id, i.name, i.status, " + store::iso8601("i.expires_at") +
            ", i.plan_id, u.id, u.email FROM instances i JOIN projects p ON p.id = i.project_id "
            "JOIN users u ON u.id = p.owner_user_id WHERE i.id = $3 AND " +
            k_live + "AND " + condition + " FOR UPDATE OF i",
        now, window_us, id);
    if (rows.empty()) return std::nullopt;
    const auto& r = rows[0];
    return candidate{{r[0].as<std::int64_t>(), r[1].as<std::string>(), r[2].as<std::int64_t>()},
                     r[3].as<std::string>(),
                     r[4].as<std::string>(),
                     r[5].as<std::string>(),
                     r[6].as<std::int64_t>(),
                     r[7].as<std::int64_t>(),
                     r[8].as<std::string>()};
}

// Runs `act` on every VM matching `condition` ($1 now, $2 a window in microseconds), each in its
// own transaction; `act` commits when it changed something and returns whether it did.
int for_each_due(pqxx::connection& conn, const std::string& condition, std::int64_t now,
                 std::int64_t window_us,
                 const std::function<bool(pqxx::work&, const candidate&)>& act) {
    int done = 0;
    for (const auto id : ids_where(conn, condition, now, window_us)) {
        try {
            pqxx::work tx(conn);
            const auto c = lock(tx, id, condition, now, window_us);
            if (c && act(tx, *c)) ++done;
        } catch (const std::exception& e) {
            log::warn("expiry sweep step failed", {{"instance_id", id}, {"error", e.what()}});
        }
    }
    return done;
}

std::string period_words(const billing::billing_interval& i) {
    return std::to_string(i.amount) + " " + i.type + (i.amount == 1 ? "" : "s");
}

}  // namespace

expiry_report sweep_expiry(pqxx::connection& conn, const expiry_settings& settings,
                           billing::time_point now_tp) {
    expiry_report report;
    const std::int64_t now = billing::epoch_micros(now_tp);
    const auto us = [](std::chrono::milliseconds d) {
        return std::chrono::duration_cast<microseconds>(d).count();
    };

    const std::string of_suspended =
        "i.status IN ('running', 'installing') AND $1::bigint IS NOT NULL AND $2::bigint IS NOT "
        "NULL AND EXISTS (SELECT 1 FROM projects p JOIN users u ON u.id = p.owner_user_id "
        "WHERE p.id = i.project_id AND u.status = 'suspended')";
    report.suspended_stopped =
        for_each_due(conn, of_suspended, now, 0, [&](pqxx::work& tx, const candidate& c) {
            if (!request_power(tx, std::nullopt, c.ref, "stop")) return false;
            tx.commit();
            return true;
        });
    report.alerts = fire_balance_alerts(conn, settings);
    if (!settings.prepaid) return report;

    const std::string renewable =
        "i.auto_renew AND i.expires_at IS NOT NULL AND "
        "i.expires_at <= " +
        k_now + " + $2 * interval '1 microsecond'";
    report.renewed = for_each_due(
        conn, renewable, now, us(settings.renew_before), [&](pqxx::work& tx, const candidate& c) {
            const bool was_expired =
                !tx.exec_params("SELECT 1 FROM instances WHERE id = $1 AND expired_at IS NOT NULL",
                                c.ref.id)
                     .empty();
            try {
                billing::pay_period_from_credits(tx, c.ref.id, now_tp, settings.currency,
                                                 "Renewal of " + c.name, settings.taxes);
            } catch (const billing::billing_error&) {
                ++report.renew_failed;
                return false;  // rolled back; the notice and expiry steps take over
            }
            if (was_expired && c.status == "stopped") request_power(tx, c.owner, c.ref, "start");
            tx.commit();
            return true;
        });

    // Warned: a VM about to expire that the renew step will not pay for as things stand. One
    // that would renew is left unmarked, so it is warned if its owner's credit drops later.
    const std::string warnable =
        "i.expires_at IS NOT NULL AND i.expired_at IS NULL AND i.expiry_notified_at IS NULL AND "
        "i.expires_at <= " +
        k_now +
        " + $2 * interval '1 microsecond' AND NOT (i.auto_renew AND "
        "EXISTS (SELECT 1 FROM projects p JOIN credit_accounts a ON a.user_id = p.owner_user_id "
        "JOIN plans pl ON pl.id = i.plan_id JOIN cost_plans c ON c.id = pl.cost_plan_id "
        "WHERE p.id = i.project_id AND a.currency = c.currency "
        "AND a.balance + a.overdraft_limit >= c.amount))";
    report.notified = for_each_due(
        conn, warnable, now, us(settings.notify_before), [&](pqxx::work& tx, const candidate& c) {
            const auto price = billing::price_of_plan(tx, c.plan_id);
            const auto account = billing::find_account(tx, c.owner);
            const std::int64_t balance = account ? account->balance : 0;
            tx.exec_params("UPDATE instances SET expiry_notified_at = " + k_now + " WHERE id = $2",
                           now, c.ref.id);
            mail::enqueue(
                tx, c.owner_email, "Your server " + c.name + " expires soon",
                "Your server " + c.name + " is paid until " + c.expires +
                    ".\n\nIt will not renew by itself: renewing costs " +
                    billing::format_money(price.amount, price.currency) + " per " +
                    period_words(price.interval) + " and your credit balance is " +
                    billing::format_money(balance, account ? account->currency : price.currency) +
                    ".\nTop up your credits at " + settings.public_url +
                    " before then, or the server will be stopped when it expires.\n");
            tx.commit();
            return true;
        });

    const std::string lapsed =
        "i.expires_at IS NOT NULL AND i.expired_at IS NULL AND i.expires_at <= " + k_now +
        " AND $2::bigint IS NOT NULL";
    report.expired = for_each_due(conn, lapsed, now, 0, [&](pqxx::work& tx, const candidate& c) {
        if (power_allowed("stop", c.status) && !request_power(tx, std::nullopt, c.ref, "stop")) {
            return false;  // another operation holds the VM; stop it next time
        }
        tx.exec_params("UPDATE instances SET expired_at = " + k_now + " WHERE id = $2", now,
                       c.ref.id);
        const auto deleted_at =
            tx.exec_params1(
                  "SELECT " + store::iso8601("(" + k_now + " + $2 * interval '1 microsecond')"),
                  now, us(settings.grace))[0]
                .as<std::string>();
        mail::enqueue(tx, c.owner_email, "Your server " + c.name + " has expired",
                      "Your server " + c.name + " expired at " + c.expires +
                          " and has been stopped.\n\nRenew it before " + deleted_at +
                          " to keep it: top up your credits at " + settings.public_url +
                          " and it renews and starts again. After that it is deleted with "
                          "its disks.\n");
        tx.commit();
        return true;
    });

    const std::string past_grace = "i.expired_at IS NOT NULL AND i.expired_at <= " + k_now +
                                   " - $2 * interval '1 microsecond'";
    report.deleted = for_each_due(conn, past_grace, now, us(settings.grace),
                                  [&](pqxx::work& tx, const candidate& c) {
                                      if (!request_delete(tx, std::nullopt, c.ref)) return false;
                                      tx.commit();
                                      return true;
                                  });
    return report;
}

int stop_vms_of_suspended(pqxx::work& tx, std::int64_t user_id) {
    int queued = 0;
    for (const auto& r : tx.exec_params(
             "SELECT i.id, i.uid, i.project_id FROM instances i JOIN projects p ON "
             "p.id = i.project_id WHERE p.owner_user_id = $1 AND i.deleted_at IS NULL AND "
             "i.status IN ('running', 'installing') ORDER BY i.id FOR UPDATE OF i",
             user_id)) {
        const instance_ref ref{r[0].as<std::int64_t>(), r[1].as<std::string>(),
                               r[2].as<std::int64_t>()};
        if (request_power(tx, std::nullopt, ref, "stop")) ++queued;
    }
    return queued;
}

int fire_balance_alerts(pqxx::connection& conn, const expiry_settings& settings) {
    pqxx::work tx(conn);
    // A balance back above a threshold re-arms its alert.
    tx.exec(
        "UPDATE billing_alerts a SET last_fired_at = NULL FROM credit_accounts c "
        "WHERE c.user_id = a.user_id AND c.balance > a.threshold "
        "AND a.last_fired_at IS NOT NULL");
    int fired = 0;
    for (const auto& r :
         tx.exec("SELECT a.user_id, a.threshold, c.balance, c.currency, u.email "
                 "FROM billing_alerts a JOIN credit_accounts c ON c.user_id = a.user_id "
                 "JOIN users u ON u.id = a.user_id "
                 "WHERE c.balance <= a.threshold AND a.last_fired_at IS NULL "
                 "FOR UPDATE OF a SKIP LOCKED")) {
        const auto currency = r[3].as<std::string>();
        tx.exec_params(
            "UPDATE billing_alerts SET last_fired_at = now() "
            "WHERE user_id = $1 AND threshold = $2",
            r[0].as<std::int64_t>(), r[1].as<std::int64_t>());
        mail::enqueue(
            tx, r[4].as<std::string>(), "Your credit balance is low",
            "Your credit balance is " + billing::format_money(r[2].as<std::int64_t>(), currency) +
                ", at or below the alert you set at " +
                billing::format_money(r[1].as<std::int64_t>(), currency) + ".\nTop up at " +
                settings.public_url + " so your servers keep renewing.\n");
        ++fired;
    }
    tx.commit();
    return fired;
}

}  // namespace vpsfleet::instances
