#pragma once
// The coordinator's YAML configuration (see coordinator/coordinator.example.yaml).
#include "common/config_reader.hpp"
#include "common/log.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace vpsfleet::coordinator {

struct database_config {
    std::string url;  // libpq connection string or postgresql:// URI
    std::size_t pool_size = 8;
    std::chrono::milliseconds connect_timeout{3000};
    std::chrono::milliseconds acquire_timeout{5000};
};

struct http_config {
    config::endpoint listen{"127.0.0.1", 8080};
    std::size_t body_limit = 1024 * 1024;
    std::chrono::milliseconds read_timeout{15'000};
    std::chrono::milliseconds idle_timeout{60'000};
};

struct fleet_config {
    config::endpoint listen{"127.0.0.1", 8443};
    // Where the fleet CA lives when ca_cert/ca_key are not given; created on first start.
    std::string state_dir = "/var/lib/vpsfleet-coordinator";
    std::optional<std::string> ca_cert;
    std::optional<std::string> ca_key;
    // Names and addresses agents dial; they go into the listener's certificate.
    std::vector<std::string> server_names{"127.0.0.1", "localhost"};
    std::chrono::seconds certificate_lifetime{7 * 24 * 3600};
    std::chrono::milliseconds heartbeat{5000};
    std::chrono::milliseconds lease{15'000};
    std::size_t max_frame_bytes = 1024 * 1024;
    std::size_t send_queue_messages = 1024;
};

struct coordinator_config {
    log::level log_level = log::level::info;
    unsigned io_threads = 2;
    http_config http;
    fleet_config fleet;
    database_config database;
};

// Throws config::config_error naming the file and key on any unknown key or bad value.
coordinator_config load_config(const std::string& path);

}  // namespace vpsfleet::coordinator
