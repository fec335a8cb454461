// The credits ledger and prepaid VMs on real PostgreSQL: the balance always equals the sum of the
// entries (also under concurrent charges), entries cannot be changed, a charge never overdraws,
// a VM period is charged and moves its expiry by calendar months, and a refund returns the exact
// pro-rata share of the time left.
#include "coordinator/billing/billing_error.hpp"
#include "coordinator/billing/ledger.hpp"
#include "coordinator/billing/prepaid.hpp"
#include "coordinator/store/migrations.hpp"
#include "tests/integration/test_helpers.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

using namespace vpsfleet;
using vpsfleet::testing::query_text;
using vpsfleet::testing::utc;

namespace {

struct ledger_world {
    std::string url = vpsfleet::testing::fresh_database();
    pqxx::connection conn{url};
    std::int64_t user = 0;
    std::int64_t project = 0;

    ledger_world() {
        store::apply_migrations(conn, store::embedded_migrations());
        pqxx::work tx(conn);
        user = tx.exec1("INSERT INTO users (email) VALUES ('payer@example.com') RETURNING id")[0]
                   .as<std::int64_t>();
        project = tx.exec_params1(
                        "INSERT INTO projects (uid, name, owner_user_id) "
                        "VALUES ('proj_b', 'B', $1) RETURNING id",
                        user)[0]
                      .as<std::int64_t>();
        billing::open_account(tx, user, "DKK");
        tx.commit();
    }

    billing::credit_entry post(std::int64_t amount, const std::string& type = "topup",
                               std::optional<std::string> key = {}) {
        pqxx::work tx(conn);
        auto e = billing::post(tx, {user, type, amount, "DKK", type, {}, {}, std::move(key)});
        tx.commit();
        return e;
    }

    std::string balance() { return query_text(conn, "SELECT balance FROM credit_accounts"); }
    std::string sum() { return query_text(conn, "SELECT sum(amount) FROM credit_entries"); }

    // A VM on the plan whose cost plan is `amount` DKK per `interval_amount` `interval_type`.
    std::int64_t instance(std::int64_t amount, int interval_amount = 1,
                          const std::string& interval_type = "month") {
        pqxx::work tx(conn);
        const auto cost = tx.exec_params1(
                                "INSERT INTO cost_plans (name, amount, currency, interval_amount, "
                                "interval_type) VALUES ('t', $1, 'DKK', $2, $3) RETURNING id",
                                amount, interval_amount, interval_type)[0]
                              .as<std::int64_t>();
        tx.exec_params("UPDATE plans SET cost_plan_id = $1 WHERE code = 'bxs-1'", cost);
        const auto id = tx.exec_params1(
                              "INSERT INTO instances (uid, project_id, name, plan_id, image_id, "
                              "libvirt_uuid, mac) SELECT 'ins_' || md5(random()::text), $1, "
                              "'vm-' || (SELECT count(*) FROM instances), p.id, i.id, "
                              "gen_random_uuid(), '52:54:00:00:00:01' FROM plans p, os_images i "
                              "WHERE p.code = 'bxs-1' AND i.uid = 'img_debian12' RETURNING id",
                              project)[0]
                            .as<std::int64_t>();
        tx.commit();
        return id;
    }

    billing::paid_period pay(std::int64_t instance, billing::time_point now) {
        pqxx::work tx(conn);
        auto paid = billing::pay_period_from_credits(tx, instance, now, "DKK", "period");
        tx.commit();
        return paid;
    }

    std::string expires(std::int64_t instance) {
        return query_text(conn,
                          "SELECT to_char(expires_at AT TIME ZONE 'UTC', "
                          "'YYYY-MM-DD HH24:MI') FROM instances WHERE id = " +
                              std::to_string(instance));
    }
};

}  // namespace

TEST(credits_ledger, the_balance_is_the_sum_of_the_entries_and_entries_cannot_change) {
    ledger_world w;
    EXPECT_EQ(w.post(100'000).balance_after, 100'000);
    EXPECT_EQ(w.post(-2'500, "charge").balance_after, 97'500);
    EXPECT_EQ(w.post(1'000, "promo").balance_after, 98'500);
    EXPECT_EQ(w.balance(), "98500");
    EXPECT_EQ(w.sum(), "98500");

    EXPECT_THROW(vpsfleet::testing::exec_sql(w.url, "UPDATE credit_entries SET amount = 1"),
                 pqxx::sql_error);
    EXPECT_THROW(vpsfleet::testing::exec_sql(w.url, "DELETE FROM credit_entries"), pqxx::sql_error);
    EXPECT_THROW(
        vpsfleet::testing::exec_sql(w.url, "UPDATE credit_accounts SET balance = 10000000"),
        pqxx::sql_error);
    // A charge must be negative and a top-up positive.
    EXPECT_THROW(w.post(500, "charge"), pqxx::sql_error);
    EXPECT_EQ(w.balance(), "98500");
    EXPECT_EQ(w.sum(), "98500");
}

TEST(credits_ledger, a_charge_beyond_the_balance_is_refused_and_changes_nothing) {
    ledger_world w;
    w.post(1'000);
    try {
        w.post(-1'001, "charge");
        FAIL() << "overdraft accepted";
    } catch (const billing::billing_error& e) {
        EXPECT_EQ(e.code, "insufficient_credit");
    }
    EXPECT_EQ(w.balance(), "1000");
    EXPECT_EQ(query_text(w.conn, "SELECT count(*) FROM credit_entries"), "1");

    // An account allowed to go 500 below zero may, and no further.
    vpsfleet::testing::exec_sql(w.url, "UPDATE credit_accounts SET overdraft_limit = 500");
    EXPECT_EQ(w.post(-1'500, "charge").balance_after, -500);
    EXPECT_THROW(w.post(-1, "charge"), billing::billing_error);

    try {
        pqxx::work tx(w.conn);
        billing::post(tx, {w.user, "topup", 100, "EUR", "wrong currency"});
        FAIL() << "a EUR entry on a DKK account was accepted";
    } catch (const billing::billing_error& e) {
        EXPECT_EQ(e.code, "currency_mismatch");
    }
}

TEST(credits_ledger, the_same_idempotency_key_posts_once) {
    ledger_world w;
    const auto first = w.post(5'000, "topup", "pi_123");
    const auto again = w.post(5'000, "topup", "pi_123");
    EXPECT_EQ(first.uid, again.uid);
    EXPECT_EQ(w.balance(), "5000");
}

TEST(credits_ledger, concurrent_charges_never_overspend_and_keep_the_sum) {
    ledger_world w;
    w.post(10'000);
    constexpr int k_threads = 8;
    constexpr int k_each = 40;  // 320 charges of 100 against 10,000: exactly 100 can pass
    std::atomic<int> accepted{0};
    std::atomic<int> refused{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < k_threads; ++t) {
        threads.emplace_back([&] {
            pqxx::connection conn(w.url);
            for (int i = 0; i < k_each; ++i) {
                try {
                    pqxx::work tx(conn);
                    billing::post(tx, {w.user, "charge", -100, "DKK", "hour"});
                    tx.commit();
                    ++accepted;
                } catch (const billing::billing_error&) {
                    ++refused;
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(accepted.load(), 100);
    EXPECT_EQ(refused.load(), k_threads * k_each - 100);
    EXPECT_EQ(w.balance(), "0");
    EXPECT_EQ(w.sum(), "0");
    // Every entry's balance_after is the running sum up to it.
    EXPECT_EQ(query_text(w.conn,
                         "SELECT count(*) FROM (SELECT balance_after, sum(amount) OVER (ORDER BY "
                         "id) AS running FROM credit_entries) s WHERE balance_after <> running"),
              "0");
}

TEST(prepaid_vms, a_period_is_charged_and_moves_the_expiry_by_calendar_months) {
    ledger_world w;
    w.post(100'000);
    const auto vm = w.instance(3'100);
    // Paid on Jan 31 of a leap year: the month ends on Feb 29, the next on Mar 29.
    const auto first = w.pay(vm, utc(2028, 1, 31, 12));
    EXPECT_EQ(first.amount, 3'100);
    EXPECT_EQ(first.balance_after, 96'900);
    EXPECT_EQ(w.expires(vm), "2028-02-29 12:00");
    w.pay(vm, utc(2028, 2, 10, 12));  // renewing early adds to the paid time, not to now
    EXPECT_EQ(w.expires(vm), "2028-03-29 12:00");
    EXPECT_EQ(query_text(w.conn, "SELECT count(*) FROM payments WHERE instance_id = " +
                                     std::to_string(vm) + " AND status = 'paid'"),
              "2");
    EXPECT_EQ(query_text(w.conn,
                         "SELECT string_agg(time_value::text, ',' ORDER BY id) FROM "
                         "payments"),
              std::to_string(29 * 86400) + "," + std::to_string(29 * 86400));
    EXPECT_EQ(query_text(w.conn, "SELECT count(*) FROM vm_history WHERE action_type = 'renewed'"),
              "2");
    EXPECT_EQ(w.balance(), "93800");

    // A VM whose time ran out starts its new period now.
    const auto lapsed = w.instance(700, 7, "day");
    w.pay(lapsed, utc(2027, 2, 20, 12));
    w.pay(lapsed, utc(2027, 3, 30, 8));
    EXPECT_EQ(w.expires(lapsed), "2027-04-06 08:00");
}

TEST(prepaid_vms, a_charge_without_enough_credit_leaves_the_vm_unpaid) {
    ledger_world w;
    w.post(3'099);
    const auto vm = w.instance(3'100);
    EXPECT_THROW(w.pay(vm, utc(2028, 1, 31, 12)), billing::billing_error);
    EXPECT_EQ(w.expires(vm), "");
    EXPECT_EQ(query_text(w.conn, "SELECT count(*) FROM payments"), "0");
    EXPECT_EQ(w.balance(), "3099");
}

TEST(prepaid_vms, a_refund_is_the_exact_pro_rata_share_of_the_time_left) {
    ledger_world w;
    w.post(10'000);
    const auto vm = w.instance(3'100);
    w.pay(vm, utc(2028, 1, 31, 12));  // 2028-01-31 12:00 .. 2028-02-29 12:00, 29 days
    {
        pqxx::work tx(w.conn);
        // 14 of 29 days left: 3100 * 14 / 29 = 1496.55..., rounded down.
        const auto q = billing::quote_refund(tx, vm, utc(2028, 2, 15, 12));
        EXPECT_EQ(q.amount, 1'496);
        EXPECT_EQ(q.currency, "DKK");
        EXPECT_EQ(billing::quote_refund(tx, vm, utc(2028, 1, 31, 12)).amount, 3'100);
        EXPECT_EQ(billing::quote_refund(tx, vm, utc(2028, 2, 29, 12)).amount, 0);
    }
    {
        pqxx::work tx(w.conn);
        EXPECT_TRUE(billing::refund_to_credits(tx, vm, utc(2028, 2, 15, 12), "moving out"));
        tx.commit();
    }
    EXPECT_EQ(w.balance(), std::to_string(10'000 - 3'100 + 1'496));
    EXPECT_EQ(w.expires(vm), "2028-02-15 12:00");  // the refunded time is gone
    // ... and it does not buy itself a new period with the credits it got back.
    EXPECT_EQ(
        query_text(w.conn, "SELECT auto_renew FROM instances WHERE id = " + std::to_string(vm)),
        "f");
    EXPECT_EQ(query_text(w.conn, "SELECT action_type FROM vm_history ORDER BY id DESC LIMIT 1"),
              "configuration_changed");
    // A second refund from the same moment owes nothing.
    pqxx::work tx(w.conn);
    EXPECT_EQ(billing::quote_refund(tx, vm, utc(2028, 2, 15, 12)).amount, 0);
    EXPECT_FALSE(billing::refund_to_credits(tx, vm, utc(2028, 2, 15, 12), ""));
}
