// The prepaid expiry sweep on real PostgreSQL, at chosen moments: it renews from credits, warns
// once by mail when a VM will not renew, marks an expired VM and queues its stop, deletes it after
// the grace, and a renewal after expiry queues a start. What reaches the host is tested end to end
// in billing_api_test.
#include "coordinator/instances/expiry_sweep.hpp"
#include "coordinator/billing/ledger.hpp"
#include "coordinator/store/migrations.hpp"
#include "tests/integration/test_helpers.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>

using namespace vpsfleet;
using namespace std::chrono_literals;
using vpsfleet::testing::exec_sql;
using vpsfleet::testing::query_text;
using vpsfleet::testing::utc;

namespace {

struct sweep_world {
    std::string url = vpsfleet::testing::fresh_database();
    pqxx::connection conn{url};
    std::int64_t user = 0;
    std::int64_t vm = 0;
    instances::expiry_settings settings{true, "DKK", 24h, 72h, 48h, "https://panel.example.com",
                                        {}};

    // One running VM on bxs-1 (4000 øre a month) paid until 2030-03-10 00:00.
    sweep_world() {
        store::apply_migrations(conn, store::embedded_migrations());
        pqxx::work tx(conn);
        user = tx.exec1("INSERT INTO users (email) VALUES ('owner@example.com') RETURNING id")[0]
                   .as<std::int64_t>();
        const auto project = tx.exec_params1(
                                   "INSERT INTO projects (uid, name, owner_user_id) "
                                   "VALUES ('proj_s', 'S', $1) RETURNING id",
                                   user)[0]
                                 .as<std::int64_t>();
        vm = tx.exec_params1(
                   "INSERT INTO instances (uid, project_id, name, plan_id, image_id, libvirt_uuid, "
                   "mac, status, power_state, expires_at) SELECT 'ins_sweep', $1, 'web-1', p.id, "
                   "i.id, gen_random_uuid(), '52:54:00:00:00:01', 'running', 'running', "
                   "'2030-03-10T00:00:00Z' FROM plans p, os_images i "
                   "WHERE p.code = 'bxs-1' AND i.uid = 'img_debian12' RETURNING id",
                   project)[0]
                 .as<std::int64_t>();
        billing::open_account(tx, user, "DKK");
        tx.commit();
    }

    void credit(std::int64_t amount) {
        pqxx::work tx(conn);
        billing::post(tx, {user, "topup", amount, "DKK", "test top-up"});
        tx.commit();
    }
    instances::expiry_report sweep(billing::time_point now) {
        return instances::sweep_expiry(conn, settings, now);
    }
    std::string column(const std::string& expr) {
        return query_text(conn,
                          "SELECT " + expr + " FROM instances WHERE id = " + std::to_string(vm));
    }
    std::string jobs(const std::string& kind) {
        return query_text(conn,
                          "SELECT string_agg(coalesce(args->>'action', kind), ',' ORDER BY "
                          "id) FROM jobs WHERE kind = '" +
                              kind + "'");
    }
    std::string mails() {
        return query_text(conn, "SELECT string_agg(subject, ' | ' ORDER BY id) FROM mail_outbox");
    }
};

}  // namespace

TEST(expiry_sweep, a_vm_renews_from_credits_within_a_day_of_expiry) {
    sweep_world w;
    w.credit(5'000);
    EXPECT_EQ(w.sweep(utc(2030, 3, 8, 23)).renewed, 0);  // 25 h before: not yet
    const auto r = w.sweep(utc(2030, 3, 9, 1));
    EXPECT_EQ(r.renewed, 1);
    EXPECT_EQ(w.column("to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"), "2030-04-10");
    EXPECT_EQ(query_text(w.conn, "SELECT balance FROM credit_accounts"), "1000");
    EXPECT_EQ(w.sweep(utc(2030, 3, 9, 2)).renewed, 0);  // paid up: nothing more to do
    EXPECT_EQ(w.mails(), "");
}

TEST(expiry_sweep, a_vm_that_will_not_renew_is_warned_once_stopped_then_deleted) {
    sweep_world w;
    w.credit(100);                         // far too little for a month
    auto r = w.sweep(utc(2030, 3, 7, 1));  // 71 h before expiry
    EXPECT_EQ(r.notified, 1);
    EXPECT_EQ(w.mails(), "Your server web-1 expires soon");
    EXPECT_EQ(w.sweep(utc(2030, 3, 7, 2)).notified, 0);  // once
    r = w.sweep(utc(2030, 3, 9, 12));
    EXPECT_EQ(r.renew_failed, 1);
    EXPECT_EQ(r.expired, 0);

    r = w.sweep(utc(2030, 3, 10, 0));
    EXPECT_EQ(r.expired, 1);
    EXPECT_FALSE(w.column("expired_at").empty());
    EXPECT_EQ(w.jobs("instance.power"), "stop");
    EXPECT_EQ(w.mails(), "Your server web-1 expires soon | Your server web-1 has expired");
    EXPECT_EQ(query_text(w.conn,
                         "SELECT string_agg(action_type, ',' ORDER BY id) FROM "
                         "vm_history WHERE action_type IN ('expired', 'renewed')"),
              "expired");
    EXPECT_EQ(w.sweep(utc(2030, 3, 10, 1)).expired, 0);  // once

    // The stop ran: the VM is stopped. Within the grace nothing more happens.
    exec_sql(w.url, "UPDATE jobs SET state = 'completed', finished_at = now()");
    exec_sql(w.url, "UPDATE instances SET status = 'stopped', power_state = 'stopped'");
    EXPECT_EQ(w.sweep(utc(2030, 3, 11, 23)).deleted, 0);
    r = w.sweep(utc(2030, 3, 12, 1));  // the grace (48 h after expiry) is over
    EXPECT_EQ(r.deleted, 1);
    EXPECT_EQ(w.jobs("instance.delete"), "instance.delete");
    EXPECT_EQ(w.column("status"), "deleting");
}

TEST(expiry_sweep, credits_after_expiry_renew_the_vm_and_start_it_again) {
    sweep_world w;
    w.sweep(utc(2030, 3, 10, 1));
    exec_sql(w.url, "UPDATE jobs SET state = 'completed', finished_at = now()");
    exec_sql(w.url, "UPDATE instances SET status = 'stopped', power_state = 'stopped'");
    ASSERT_FALSE(w.column("expired_at").empty());

    w.credit(4'000);
    const auto r = w.sweep(utc(2030, 3, 11));
    EXPECT_EQ(r.renewed, 1);
    EXPECT_EQ(w.column("expired_at"), "");
    // The new month starts at the renewal, not at the old expiry.
    EXPECT_EQ(w.column("to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"), "2030-04-11");
    EXPECT_EQ(w.jobs("instance.power"), "stop,start");
    EXPECT_EQ(query_text(w.conn, "SELECT balance FROM credit_accounts"), "0");
}

TEST(expiry_sweep, a_vm_busy_with_another_job_is_stopped_at_a_later_sweep) {
    sweep_world w;
    exec_sql(w.url,
             "INSERT INTO jobs (uid, kind, target, exclusive, args) VALUES "
             "('job_busy', 'instance.power', 'ins_sweep', true, '{\"action\": \"reboot\"}')");
    EXPECT_EQ(w.sweep(utc(2030, 3, 10, 1)).expired, 0);
    EXPECT_EQ(w.column("expired_at"), "");
    exec_sql(w.url, "UPDATE jobs SET state = 'completed', finished_at = now()");
    EXPECT_EQ(w.sweep(utc(2030, 3, 10, 2)).expired, 1);
}

TEST(expiry_sweep, a_balance_alert_mails_once_and_rearms_above_its_threshold) {
    sweep_world w;
    w.settings.notify_before = 0ms;
    exec_sql(w.url, "INSERT INTO billing_alerts (user_id, threshold) SELECT id, 5000 FROM users");
    w.credit(6'000);
    EXPECT_EQ(w.sweep(utc(2030, 1, 1)).alerts, 0);
    {
        pqxx::work tx(w.conn);
        billing::post(tx, {w.user, "charge", -1'500, "DKK", "usage"});
        tx.commit();
    }
    EXPECT_EQ(w.sweep(utc(2030, 1, 1)).alerts, 1);
    EXPECT_EQ(w.sweep(utc(2030, 1, 1)).alerts, 0);
    EXPECT_EQ(w.mails(), "Your credit balance is low");
    w.credit(1'000);  // 5,500: above the threshold again
    EXPECT_EQ(w.sweep(utc(2030, 1, 1)).alerts, 0);
    {
        pqxx::work tx(w.conn);
        billing::post(tx, {w.user, "charge", -600, "DKK", "usage"});
        tx.commit();
    }
    EXPECT_EQ(w.sweep(utc(2030, 1, 1)).alerts, 1);
}

TEST(expiry_sweep, a_suspended_accounts_running_vm_is_stopped_also_without_prepaid_billing) {
    sweep_world w;
    w.settings.prepaid = false;
    exec_sql(w.url,
             "INSERT INTO jobs (uid, kind, target, exclusive, args) VALUES "
             "('job_busy', 'instance.power', 'ins_sweep', true, '{\"action\": \"reboot\"}')");
    exec_sql(w.url, "UPDATE users SET status = 'suspended'");
    EXPECT_EQ(w.sweep(utc(2035, 1, 1)).suspended_stopped, 0);  // held by the reboot
    exec_sql(w.url, "UPDATE jobs SET state = 'completed', finished_at = now()");
    const auto r = w.sweep(utc(2035, 1, 1));  // long past expiry, but billing is not prepaid
    EXPECT_EQ(r.suspended_stopped, 1);
    EXPECT_EQ(r.expired, 0);
    EXPECT_EQ(w.jobs("instance.power"), "reboot,stop");
    EXPECT_EQ(w.column("expired_at"), "");
}
