#include "agent/link/command_runner.hpp"

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
    if (cmd.kind != "domain.start" && cmd.kind != "domain.stop") {
        co_return failure(cmd, "unsupported_command",
                          "this agent does not run '" + cmd.kind + "' commands");
    }
    if (!cmd.args.contains("domain") || !cmd.args["domain"].is_string()) {
        co_return failure(cmd, "invalid_arguments", "args.domain must be a domain name or UUID");
    }
    const std::string domain = cmd.args["domain"];
    const bool start = cmd.kind == "domain.start";
    auto act = [domain, start](libvirt::connection& conn) {
        start ? conn.start(domain) : conn.destroy(domain);
    };
    try {
        co_await hypervisor.with_hypervisor(act);
    } catch (const std::exception& e) {
        co_return failure(cmd, "hypervisor_error", e.what());
    }
    co_return protocol::command_result{cmd.command_id, true, nlohmann::json{{"domain", domain}},
                                       std::nullopt};
}

}  // namespace vpsfleet::agent::link
