// The coordinator's awaitable send_command against a real agent on libvirt's test:///default
// host: the command is persisted, reaches the agent through the coordinator holding its link,
// and the awaitable completes with the agent's result; for a host whose agent is gone it waits
// until the agent comes back, or ends `expired` at its deadline.
#include "coordinator/fleet/send_command.hpp"
#include "tests/integration/fleet_fixture.hpp"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <pqxx/pqxx>

#include <signal.h>

#include <thread>

using namespace vpsfleet::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;
namespace asio = boost::asio;
using vpsfleet::fleet::command_outcome;

namespace {

std::int64_t host_id(const fleet_fixture& fleet, const std::string& name) {
    pqxx::connection conn(fleet.database_url());
    pqxx::read_transaction tx(conn);
    return tx.exec_params1("SELECT id FROM hosts WHERE name = $1", name)[0].as<std::int64_t>();
}

// Runs send_command on its own io_context thread and returns the future outcome.
struct command_sender {
    explicit command_sender(const std::string& url) : db({url, 4, 3000ms, 5000ms}) {}
    ~command_sender() {
        work.reset();
        if (runner.joinable()) runner.join();
        db.stop();
    }

    std::future<command_outcome> send(std::int64_t host, const std::string& kind, const json& args,
                                      std::chrono::milliseconds within) {
        auto call = vpsfleet::fleet::send_command(db, host, kind, args,
                                                  std::chrono::system_clock::now() + within);
        return asio::co_spawn(io, std::move(call), asio::use_future);
    }

    vpsfleet::store::database db;
    asio::io_context io;
    std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{
        io.get_executor()};
    std::thread runner{[this] { io.run(); }};
};

}  // namespace

TEST(send_command, completes_with_the_agents_result_and_waits_for_a_host_that_comes_back) {
    fleet_fixture fleet;
    ASSERT_EQ(fleet.enroll("hv-a", fleet.create_token()).status, 0);
    auto agent = fleet.start_agent("hv-a");
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "online"));
    const auto host = host_id(fleet, "hv-a");
    command_sender sender(fleet.database_url());

    auto stopped = sender.send(host, "domain.stop", {{"domain", "test"}}, 10s).get();
    EXPECT_EQ(stopped.state, "completed") << stopped.error.dump();
    EXPECT_FALSE(stopped.command_id.empty());

    // The agent is gone: a short deadline ends expired...
    agent.process->signal(SIGKILL);
    agent.process->wait_exit(5s);
    auto lost = sender.send(host, "domain.stop", {{"domain", "test"}}, 600ms).get();
    EXPECT_EQ(lost.state, "expired");
    EXPECT_EQ(lost.error["code"], "deadline_passed") << lost.error.dump();

    // ...a long one is delivered when the agent is back, and runs there (a restarted test:///
    // host has its domain running again).
    auto pending = sender.send(host, "domain.stop", {{"domain", "test"}}, 30s);
    EXPECT_EQ(pending.wait_for(500ms), std::future_status::timeout);
    auto back = fleet.start_agent("hv-a");
    ASSERT_EQ(pending.wait_for(20s), std::future_status::ready);
    const auto delivered = pending.get();
    EXPECT_EQ(delivered.state, "completed") << delivered.error.dump();
    EXPECT_EQ(back.terminate(5s), 0);
}
