// vpsfleet-agent: the daemon on every hypervisor host.
#include "agent/config.hpp"
#include "agent/service.hpp"
#include "common/build_info.hpp"
#include "common/daemon.hpp"
#include "common/log.hpp"

#include <iostream>
#include <string>

namespace {

constexpr const char* k_usage = R"(usage:
  vpsfleet-agent [--config PATH]          run the agent
  vpsfleet-agent check-config [--config PATH]
  vpsfleet-agent --version
The default configuration file is /etc/vpsfleet/agent.yaml.
)";

}  // namespace

int main(int argc, char** argv) {
    using namespace vpsfleet;
    log::set_component("agent");
    std::string command = "run";
    std::string config_path = "/etc/vpsfleet/agent.yaml";
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--version") {
            std::cout << "vpsfleet-agent " << build::version << " (" << build::commit << ")\n";
            return daemon::exit_ok;
        } else if (arg == "--help") {
            std::cout << k_usage;
            return daemon::exit_ok;
        } else if (arg == "--config" && i + 1 < argc) {
            config_path = argv[++i];
        } else if (arg == "check-config" && i == 1) {
            command = arg;
        } else {
            std::cerr << "vpsfleet-agent: unexpected argument '" << arg << "'\n" << k_usage;
            return daemon::exit_usage;
        }
    }

    agent::agent_config cfg;
    try {
        cfg = agent::load_config(config_path);
    } catch (const config::config_error& e) {
        std::cerr << "vpsfleet-agent: configuration error: " << e.what() << "\n";
        return daemon::exit_usage;
    }
    if (command == "check-config") {
        std::cout << config_path << ": ok\n";
        return daemon::exit_ok;
    }
    log::set_level(cfg.log_level);

    boost::asio::io_context io;
    agent::service svc(io, cfg);
    try {
        svc.start();
    } catch (const std::exception& e) {
        log::error("cannot start", {{"error", e.what()}});
        return daemon::exit_failure;
    }
    log::info("agent started", {{"version", build::version}, {"commit", build::commit}});
    const int code = daemon::run(io, {2, std::chrono::milliseconds(4000)}, [&svc] { svc.stop(); });
    log::info("agent stopped", {{"exit_code", code}});
    return code;
}
