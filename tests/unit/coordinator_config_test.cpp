#include "coordinator/config.hpp"
#include "tests/support/temp_file.hpp"

#include <gtest/gtest.h>

using namespace vpsfleet;
using vpsfleet::testing::temp_file;

namespace {
std::string error_loading(const std::string& yaml) {
    temp_file file(yaml);
    try {
        coordinator::load_config(file.path());
    } catch (const config::config_error& e) {
        return e.what();
    }
    return "no error";
}
}  // namespace

TEST(coordinator_config, example_file_in_the_repository_loads) {
    const auto cfg = coordinator::load_config(std::string(VPSFLEET_SOURCE_DIR) +
                                              "/coordinator/coordinator.example.yaml");
    EXPECT_EQ(cfg.http.listen.port, 8080);
    EXPECT_EQ(cfg.database.pool_size, 8u);
    EXPECT_EQ(cfg.database.acquire_timeout, std::chrono::seconds(5));
}

TEST(coordinator_config, requires_a_database_url) {
    EXPECT_NE(error_loading("http:\n  listen: 127.0.0.1:8080\n").find("database.url: required"),
              std::string::npos);
}

TEST(coordinator_config, rejects_unknown_keys_in_each_section) {
    EXPECT_NE(error_loading("database:\n  url: x\n  pool: 3\n").find("database.pool: unknown key"),
              std::string::npos);
    EXPECT_NE(
        error_loading("database:\n  url: x\nlog:\n  lvl: info\n").find("log.lvl: unknown key"),
        std::string::npos);
}

TEST(coordinator_config, rejects_bad_values_with_the_key_named) {
    EXPECT_NE(error_loading("database:\n  url: x\n  pool_size: 0\n")
                  .find("database.pool_size: must be between 1 and 512"),
              std::string::npos);
    EXPECT_NE(error_loading("database:\n  url: x\nhttp:\n  listen: 8080\n")
                  .find("http.listen: expected HOST:PORT"),
              std::string::npos);
    EXPECT_NE(error_loading("database:\n  url: x\nlog:\n  level: chatty\n")
                  .find("log.level: expected one of"),
              std::string::npos);
}
