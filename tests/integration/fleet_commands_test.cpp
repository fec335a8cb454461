// Commands over the fleet link with the real binaries: submitted through PostgreSQL by any
// process, delivered at least once, run exactly once thanks to the agent's journal.
#include "tests/integration/fleet_fixture.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <signal.h>

using namespace vpsfleet::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

json last_line_json(const std::string& output) {
    auto end = output.find_last_not_of('\n');
    auto start = output.rfind('\n', end);
    return json::parse(output.substr(start == std::string::npos ? 0 : start + 1, end + 1), nullptr,
                       false);
}

void sql(const fleet_fixture& fleet, const std::string& statement) {
    pqxx::connection conn(fleet.database_url());
    pqxx::work tx(conn);
    tx.exec(statement);
    tx.commit();
}

int count_lines(const running_daemon& d, const std::string& needle) {
    const auto all = d.process->collected_stderr();
    int n = 0;
    for (auto at = all.find(needle); at != std::string::npos; at = all.find(needle, at + 1)) ++n;
    return n;
}

struct enrolled_fleet : fleet_fixture {
    enrolled_fleet() {
        if (enroll("hv-a", create_token()).status != 0) throw std::runtime_error("enroll failed");
    }
};

}  // namespace

TEST(fleet_commands, a_command_runs_on_the_host_and_its_result_comes_back) {
    enrolled_fleet fleet;
    auto agent = fleet.start_agent("hv-a");
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "online"));
    const auto r = fleet.send_command("hv-a", "domain.stop", R"({"domain":"test"})");
    EXPECT_EQ(r.status, 0) << r.output;
    const auto out = last_line_json(r.output);
    EXPECT_EQ(out["state"], "completed");
    EXPECT_EQ(out["result"]["domain"], "test");

    // The effect is real: stopping it again is refused by the hypervisor, and said so.
    const auto again = fleet.send_command("hv-a", "domain.stop", R"({"domain":"test"})");
    EXPECT_NE(again.status, 0);
    EXPECT_EQ(last_line_json(again.output)["error"]["code"], "hypervisor_error");

    const auto unknown = fleet.send_command("hv-a", "format.disks", "{}");
    EXPECT_EQ(last_line_json(unknown.output)["error"]["code"], "unsupported_command");

    // The host's reported inventory follows: the guest is seen stopped.
    pqxx::connection conn(fleet.database_url());
    std::string state;
    for (int i = 0; i < 100 && state != "shutoff"; ++i) {
        std::this_thread::sleep_for(50ms);
        const auto rows = pqxx::read_transaction(conn).exec(
            "SELECT d.state FROM host_domains d JOIN hosts h ON h.id = d.host_id "
            "WHERE h.name = 'hv-a' AND d.name = 'test'");
        if (!rows.empty()) state = rows[0][0].as<std::string>();
    }
    EXPECT_EQ(state, "shutoff");
}

TEST(fleet_commands, a_command_for_a_disconnected_host_waits_for_it) {
    enrolled_fleet fleet;
    {
        auto agent = fleet.start_agent("hv-a");
        ASSERT_TRUE(fleet.wait_for_state("hv-a", "online"));
        agent.terminate(5s);
    }
    run_result r;
    std::thread sender(
        [&] { r = fleet.send_command("hv-a", "domain.stop", R"({"domain":"test"})", "20s"); });
    std::this_thread::sleep_for(500ms);
    auto agent = fleet.start_agent("hv-a");
    sender.join();
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(last_line_json(r.output)["state"], "completed");
}

TEST(fleet_commands, a_command_past_its_deadline_expires_instead_of_running_late) {
    enrolled_fleet fleet;  // no agent running
    const auto r = fleet.send_command("hv-a", "domain.stop", R"({"domain":"test"})", "300ms");
    EXPECT_NE(r.status, 0);
    EXPECT_EQ(last_line_json(r.output)["state"], "expired");
}

TEST(fleet_commands, a_command_resent_after_the_link_dropped_has_one_effect) {
    enrolled_fleet fleet;
    auto agent = fleet.start_agent("hv-a");
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "online"));
    const auto first = fleet.send_command("hv-a", "domain.stop", R"({"domain":"test"})");
    ASSERT_EQ(first.status, 0) << first.output;
    const std::string id = last_line_json(first.output)["id"];

    // As if the result had been lost with the link: the row still says "sent". The restarted
    // coordinator re-sends it on hello; the agent must answer from its journal, not stop the
    // (already stopped) domain again, which would fail.
    fleet.coordinator().process->signal(SIGKILL);
    fleet.coordinator().process->wait_exit(5s);
    sql(fleet,
        "UPDATE commands SET state = 'sent', result = NULL, completed_at = NULL WHERE id = '" + id +
            "'");
    fleet.restart_coordinator();

    pqxx::connection conn(fleet.database_url());
    std::string state;
    for (int i = 0; i < 200 && state != "completed"; ++i) {
        std::this_thread::sleep_for(50ms);
        state = pqxx::read_transaction(conn)
                    .exec("SELECT state FROM commands WHERE id = '" + id + "'")[0][0]
                    .as<std::string>();
    }
    EXPECT_EQ(state, "completed");
    const auto row = pqxx::read_transaction(conn).exec(
        "SELECT attempts, result->>'domain' FROM commands WHERE id = '" + id + "'");
    EXPECT_EQ(row[0][0].as<int>(), 2);
    EXPECT_EQ(row[0][1].as<std::string>(), "test");
    EXPECT_EQ(count_lines(agent, "\"msg\":\"command finished\""), 1);
    EXPECT_EQ(count_lines(agent, "\"msg\":\"command replayed from the journal\""), 1);
}

TEST(fleet_commands, the_journal_survives_an_agent_restart) {
    enrolled_fleet fleet;
    std::string id;
    {
        auto agent = fleet.start_agent("hv-a");
        ASSERT_TRUE(fleet.wait_for_state("hv-a", "online"));
        const auto first = fleet.send_command("hv-a", "domain.stop", R"({"domain":"test"})");
        ASSERT_EQ(first.status, 0) << first.output;
        id = last_line_json(first.output)["id"];
        agent.terminate(5s);
    }
    sql(fleet,
        "UPDATE commands SET state = 'sent', result = NULL, completed_at = NULL WHERE id = '" + id +
            "'");
    auto agent = fleet.start_agent("hv-a");
    EXPECT_TRUE(agent.process->wait_for_line("\"msg\":\"command replayed from the journal\"", 10s));
    EXPECT_EQ(count_lines(agent, "\"msg\":\"command finished\""), 0);
}

TEST(fleet_commands, a_command_reaches_an_agent_held_by_another_coordinator_process) {
    enrolled_fleet fleet;
    auto other = fleet.start_second_coordinator();  // same database, holds no links
    auto agent = fleet.start_agent("hv-a");         // dials the first coordinator
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "online"));
    // The CLI is a third process; the command travels by table and NOTIFY to whoever holds hv-a.
    const auto r = fleet.send_command("hv-a", "domain.stop", R"({"domain":"test"})");
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_TRUE(fleet.coordinator().process->wait_for_line("\"msg\":\"command sent\"", 5s));
    EXPECT_FALSE(other.process->wait_for_line("\"msg\":\"command sent\"", 100ms));
}
