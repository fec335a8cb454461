#include "agent/link/command_runner.hpp"

#include "agent/link/vm_commands.hpp"

#include <chrono>

namespace vpsfleet::agent::link {

namespace {

protocol::command_result failure(const protocol::command& cmd, std::string code,
                                 std::string message) {
    return {cmd.command_id, false, std::nullopt,
            protocol::command_error{std::move(code), std::move(message)}};
}

}  // namespace

boost::asio::awaitable<protocol::command_result> run_command(host_collector& hypervisor,
                                                             const protocol::command& cmd) {
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    if (cmd.deadline != 0 && now_ms > cmd.deadline) {
        co_return failure(cmd, "deadline_passed",
                          "the command arrived after its deadline; not run");
    }
    std::optional<vm_job> job;
    try {
        job = make_vm_job(cmd.kind, cmd.args);
    } catch (const args_error& e) {
        co_return failure(cmd, "invalid_arguments", e.what());
    }
    if (!job) {
        co_return failure(cmd, "unsupported_command",
                          "this agent does not run '" + cmd.kind + "' commands");
    }
    auto outcome = co_await hypervisor.hypervisor().run(*job);
    // The change shows in the inventory at once, not at the next tick.
    hypervisor.refresh_soon();
    if (!outcome) {
        co_return failure(cmd, std::string(driver::to_string(outcome.error().code)),
                          outcome.error().message);
    }
    co_return protocol::command_result{cmd.command_id, true, std::move(*outcome), std::nullopt};
}

}  // namespace vpsfleet::agent::link
