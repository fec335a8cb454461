// A job whose steps run fleet commands on a real agent (libvirt test:/// driver) through a real
// coordinator process: the command is done on the host, and a later failure undoes it there.
#include "coordinator/jobs/fleet_step.hpp"
#include "coordinator/jobs/job_runner.hpp"
#include "coordinator/jobs/job_store.hpp"
#include "coordinator/store/migrations.hpp"
#include "tests/integration/fleet_fixture.hpp"
#include "tests/integration/test_helpers.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

using namespace vpsfleet;
using namespace vpsfleet::jobs;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

using vpsfleet::testing::query_text;

bool wait_for_text(const std::string& url, const std::string& sql, const std::string& want,
                   std::chrono::milliseconds timeout = 15s) {
    return vpsfleet::testing::eventually([&] { return query_text(url, sql) == want; }, timeout);
}

}  // namespace

TEST(jobs_fleet, a_failed_job_undoes_the_fleet_command_its_first_step_ran) {
    vpsfleet::testing::fleet_fixture fleet;
    ASSERT_EQ(fleet.enroll("hv-a", fleet.create_token()).status, 0);
    auto agent = fleet.start_agent("hv-a");
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "online"));
    const auto& url = fleet.database_url();
    const auto host = std::stoll(query_text(url, "SELECT id FROM hosts WHERE name = 'hv-a'"));
    const std::string domain_state =
        "SELECT d.state FROM host_domains d WHERE d.name = 'test' AND d.host_id = " +
        std::to_string(host);
    ASSERT_TRUE(wait_for_text(url, domain_state, "running"));

    job_handler h{
        {job_step{
             "stop_vm",
             [host](step_context& ctx) {
                 return run_fleet_command(ctx, host, "domain.stop", json{{"domain", "test"}}, 10s);
             },
             [host](step_context& ctx) {
                 run_fleet_command(ctx, host, "domain.start", json{{"domain", "test"}}, 10s);
             }},
         job_step{"resize_disk",
                  [](step_context&) -> json {
                      throw step_failed("disk_full", "no room for the new disk");
                  },
                  {}}}};
    runner_options options;
    options.conninfo = url;
    options.workers = 1;
    options.lease_time = 5s;
    job_runner runner(options);
    runner.add_handler("vm.resize", h);
    runner.start();

    enqueued_job j;
    {
        pqxx::connection conn(url);
        pqxx::work tx(conn);
        j = *enqueue(tx, new_job{.kind = "vm.resize"});
        tx.commit();
    }
    ASSERT_TRUE(wait_for_text(url, "SELECT state FROM jobs WHERE id = " + std::to_string(j.id),
                              "failed", 30s));
    pqxx::connection conn(url);
    const auto failed = *get_job(conn, j.id);
    EXPECT_EQ(failed.error["code"], "disk_full");
    // Each command ran once on the host, in order: stopped by the step, started by its undo.
    const auto commands =
        pqxx::read_transaction(conn).exec("SELECT kind, state FROM commands ORDER BY created_at");
    ASSERT_EQ(commands.size(), 2u);
    EXPECT_EQ(commands[0][0].as<std::string>(), "domain.stop");
    EXPECT_EQ(commands[0][1].as<std::string>(), "completed");
    EXPECT_EQ(commands[1][0].as<std::string>(), "domain.start");
    EXPECT_EQ(commands[1][1].as<std::string>(), "completed");
    // And the host says so: the guest runs again.
    EXPECT_TRUE(wait_for_text(url, domain_state, "running"));
}
