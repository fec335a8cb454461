#include "tests/integration/daemon_fixture.hpp"

#include <nlohmann/json.hpp>

#include <signal.h>

#include <map>
#include <mutex>
#include <stdexcept>

namespace vpsfleet::testing {

std::string coordinator_bin() { return VPSFLEET_COORDINATOR_BIN; }
std::string agent_bin() { return VPSFLEET_AGENT_BIN; }

std::optional<int> running_daemon::terminate(std::chrono::milliseconds timeout) {
    process->signal(SIGTERM);
    return process->wait_exit(timeout);
}

running_daemon start_daemon(const std::string& binary, const std::string& yaml) {
    auto config = std::make_unique<temp_file>(yaml);
    running_daemon d = launch_daemon(binary, config->path());
    d.config = std::move(config);
    return d;
}

running_daemon launch_daemon(const std::string& binary, const std::string& config_path) {
    running_daemon d;
    d.process =
        std::make_unique<child_process>(std::vector<std::string>{binary, "--config", config_path});
    const auto line = d.process->wait_for_line("\"msg\":\"listening\"", std::chrono::seconds(20));
    if (!line) {
        throw std::runtime_error(binary + " did not start listening:\n" +
                                 d.process->collected_stderr());
    }
    const std::string addr = nlohmann::json::parse(*line).at("addr");
    d.port = static_cast<std::uint16_t>(std::stoi(addr.substr(addr.rfind(':') + 1)));
    return d;
}

running_daemon start_coordinator(const std::string& database_url,
                                 const std::string& database_extra) {
    auto state = std::make_unique<temp_dir>();
    running_daemon d = start_daemon(coordinator_bin(),
                                    "http:\n  listen: 127.0.0.1:0\nfleet:\n  listen: 127.0.0.1:0\n"
                                    "  state_dir: " +
                                        state->path() + "\ndatabase:\n  url: \"" + database_url +
                                        "\"\n" + database_extra);
    d.state = std::move(state);
    remember_coordinator_database(d.port, database_url);
    return d;
}

namespace {

std::mutex databases_mutex;
std::map<std::uint16_t, std::string> databases_by_port;

}  // namespace

void remember_coordinator_database(std::uint16_t port, const std::string& database_url) {
    const std::lock_guard lock(databases_mutex);
    databases_by_port[port] = database_url;
}

std::string coordinator_database(std::uint16_t port) {
    const std::lock_guard lock(databases_mutex);
    const auto it = databases_by_port.find(port);
    return it == databases_by_port.end() ? std::string() : it->second;
}

running_daemon start_agent(const std::string& libvirt_uri, const std::string& extra_yaml) {
    return start_daemon(agent_bin(),
                        "metrics:\n  listen: 127.0.0.1:0\nhypervisor:\n  libvirt_uri: \"" +
                            libvirt_uri + "\"\ncollector:\n  interval: 200ms\n" + extra_yaml);
}

std::string promtool_problems(const std::string& exposition) {
    temp_file scrape(exposition, ".prom");
    const auto result = run_command({"sh", "-c", "promtool check metrics < " + scrape.path()});
    if (result.status == 0 && result.output.empty()) return {};
    return "promtool exit " + std::to_string(result.status) + ": " + result.output;
}

}  // namespace vpsfleet::testing
