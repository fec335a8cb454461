#pragma once
// Starts the real daemon binaries as child processes with a config written for the test, and finds
// the port each one bound from its "listening" log line.
#include "tests/support/child_process.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/temp_file.hpp"

#include <chrono>
#include <memory>
#include <string>

namespace vpsfleet::testing {

std::string coordinator_bin();
std::string agent_bin();

struct running_daemon {
    std::unique_ptr<temp_file> config;
    std::unique_ptr<temp_dir> state;
    std::unique_ptr<child_process> process;
    std::uint16_t port = 0;

    http_reply get(const std::string& target) const { return http_get("127.0.0.1", port, target); }
    // SIGTERM, then the exit code if it came within the timeout.
    std::optional<int> terminate(std::chrono::milliseconds timeout);
};

// Starts `binary --config <yaml>` and waits until it logs the address it listens on.
running_daemon start_daemon(const std::string& binary, const std::string& yaml);
// The same with a configuration file that already exists.
running_daemon launch_daemon(const std::string& binary, const std::string& config_path);

running_daemon start_coordinator(const std::string& database_url,
                                 const std::string& extra_yaml = {});
// The database of the coordinator this process last started on an HTTP port, so helpers that get
// only an API client (sign_up, which confirms the new account's email) can read what it wrote;
// "" for a port no coordinator of this process listens on.
void remember_coordinator_database(std::uint16_t port, const std::string& database_url);
std::string coordinator_database(std::uint16_t port);
running_daemon start_agent(const std::string& libvirt_uri, const std::string& extra_yaml = {});

// Runs promtool's exposition check on a scrape; returns its complaints, empty when clean.
std::string promtool_problems(const std::string& exposition);

}  // namespace vpsfleet::testing
