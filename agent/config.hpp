#pragma once
// The agent's YAML configuration (see agent/agent.example.yaml).
#include "common/config_reader.hpp"
#include "common/log.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace vpsfleet::agent {

struct agent_config {
    log::level log_level = log::level::info;
    // The name this host is known by; defaults to the hypervisor's own hostname.
    std::optional<std::string> host_name;
    std::string driver = "libvirt";
    std::string libvirt_uri = "qemu:///system";
    config::endpoint metrics_listen{"127.0.0.1", 9101};
    std::chrono::milliseconds collect_interval{10'000};
};

// Throws config::config_error naming the file and key on any unknown key or bad value.
agent_config load_config(const std::string& path);

}  // namespace vpsfleet::agent
