#pragma once
// The coordinator's YAML configuration (see coordinator/coordinator.example.yaml).
#include "common/config_reader.hpp"
#include "common/log.hpp"

#include <chrono>
#include <cstddef>
#include <string>

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

struct coordinator_config {
    log::level log_level = log::level::info;
    unsigned io_threads = 2;
    http_config http;
    database_config database;
};

// Throws config::config_error naming the file and key on any unknown key or bad value.
coordinator_config load_config(const std::string& path);

}  // namespace vpsfleet::coordinator
