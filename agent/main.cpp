// vpsfleet-agent: the daemon on every hypervisor host.
#include "agent/config.hpp"
#include "agent/link/enroll.hpp"
#include "agent/service.hpp"
#include "common/build_info.hpp"
#include "common/daemon.hpp"
#include "common/log.hpp"
#include "common/systemd_notify.hpp"

#include <unistd.h>

#include <iostream>
#include <string>

namespace {

constexpr const char* k_usage = R"(usage:
  vpsfleet-agent [--config PATH]          run the agent
  vpsfleet-agent check-config [--config PATH]
  vpsfleet-agent enroll --coordinator https://HOST:8443 --token TOKEN [--ca-fingerprint SHA256]
                 [--config PATH]       join a coordinator; keys go to link.state_dir
  vpsfleet-agent --version
The default configuration file is /etc/vpsfleet/agent.yaml.
)";

}  // namespace

int main(int argc, char** argv) {
    using namespace vpsfleet;
    log::set_component("agent");
    std::string command = "run";
    std::string config_path = "/etc/vpsfleet/agent.yaml";
    agent::link::enroll_options enrollment;
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
        } else if ((arg == "check-config" || arg == "enroll") && i == 1) {
            command = arg;
        } else if (command == "enroll" && arg == "--coordinator" && i + 1 < argc) {
            enrollment.coordinator = argv[++i];
        } else if (command == "enroll" && arg == "--token" && i + 1 < argc) {
            enrollment.token = argv[++i];
        } else if (command == "enroll" && arg == "--ca-fingerprint" && i + 1 < argc) {
            enrollment.ca_fingerprint = argv[++i];
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
    if (command == "enroll") {
        char hostname[256] = {};
        gethostname(hostname, sizeof hostname - 1);
        enrollment.host_name = cfg.host_name.value_or(hostname);
        enrollment.state_dir = cfg.state_dir;
        try {
            const auto result = agent::link::enroll(enrollment);
            std::cout << "enrolled as host " << result.host_id << " (" << enrollment.host_name
                      << ")\nfleet CA fingerprint: " << result.ca_fingerprint << "\n";
            if (!enrollment.ca_fingerprint) {
                std::cout << "the CA was trusted on first use; pass --ca-fingerprint to pin it\n";
            }
            return daemon::exit_ok;
        } catch (const std::exception& e) {
            std::cerr << "vpsfleet-agent: enrollment failed: " << e.what() << "\n";
            return daemon::exit_failure;
        }
    }

    boost::asio::io_context io;
    agent::service svc(io, cfg);
    try {
        svc.start();
    } catch (const std::exception& e) {
        log::error("cannot start", {{"error", e.what()}});
        return daemon::exit_failure;
    }
    log::info("agent started", {{"version", build::version}, {"commit", build::commit}});
    systemd::supervisor supervisor(
        io, [&svc] { return svc.hypervisor_up(); }, "hypervisor connected");
    supervisor.start();
    const int code = daemon::run(io, {2, std::chrono::milliseconds(4000)}, [&svc, &supervisor] {
        supervisor.stop();
        svc.stop();
    });
    log::info("agent stopped", {{"exit_code", code}});
    return code;
}
