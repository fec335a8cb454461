#pragma once
// The agent's YAML configuration (see agent/agent.example.yaml).
#include "common/config_reader.hpp"
#include "common/log.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

namespace vpsfleet::agent {

// hypervisor.proxmox: the Proxmox VE node this agent drives (driver: proxmox).
struct proxmox_config {
    std::string url = "https://localhost:8006";
    std::string node;
    std::string token_id;  // user@realm!tokenid, with token_secret; or user and password
    std::string token_secret;
    std::string user;
    std::string password;
    std::string ca_file;  // the node's CA (PEM); empty: the system's trust store
    std::string ca_pem;   // ca_file's contents, read when the configuration loads
};

struct agent_config {
    log::level log_level = log::level::info;
    // The name this host is known by; defaults to the hypervisor's own hostname.
    std::optional<std::string> host_name;
    std::string driver = "libvirt";
    std::string libvirt_uri = "qemu:///system";
    // The guest CPU under KVM: host-model (migratable, the default), host-passthrough, or
    // default (QEMU's generic model); cpu_disable turns features off, for hosts (nested ones)
    // whose KVM refuses one the model would give.
    std::string cpu_mode = "host-model";
    std::vector<std::string> cpu_disable;
    proxmox_config proxmox;
    config::endpoint metrics_listen{"127.0.0.1", 9101};
    std::chrono::milliseconds collect_interval{10'000};
    // Usage samples go to the coordinator over the link this often (the latest one each time).
    std::chrono::milliseconds push_interval{60'000};
    // Enrollment keys and certificates live here (written by `vpsfleet-agent enroll`).
    std::string state_dir = "/var/lib/vpsfleet-agent";
    std::size_t max_frame_bytes = 1024 * 1024;
    std::size_t send_queue_messages = 1024;
    std::chrono::milliseconds reconnect_cap{30'000};
};

// Throws config::config_error naming the file and key on any unknown key or bad value.
agent_config load_config(const std::string& path);

}  // namespace vpsfleet::agent
