#pragma once
// The agent's YAML configuration (see agent/agent.example.yaml).
#include "common/config_reader.hpp"
#include "common/log.hpp"

#include <chrono>
#include <cstddef>
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
    // Enrollment keys and certificates live here (written by `vpsfleet-agent enroll`).
    std::string state_dir = "/var/lib/vpsfleet-agent";
    std::size_t max_frame_bytes = 1024 * 1024;
    std::size_t send_queue_messages = 1024;
    std::chrono::milliseconds reconnect_cap{30'000};
};

// Throws config::config_error naming the file and key on any unknown key or bad value.
agent_config load_config(const std::string& path);

}  // namespace vpsfleet::agent
