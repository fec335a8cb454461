#include "agent/config.hpp"
#include "tests/support/temp_file.hpp"

#include <gtest/gtest.h>

using namespace vpsfleet;
using vpsfleet::testing::temp_file;

namespace {
std::string error_loading(const std::string& yaml) {
    temp_file file(yaml);
    try {
        agent::load_config(file.path());
    } catch (const config::config_error& e) {
        return e.what();
    }
    return "no error";
}
}  // namespace

TEST(agent_config, defaults_suit_a_libvirt_host) {
    temp_file file("");
    const auto cfg = agent::load_config(file.path());
    EXPECT_EQ(cfg.libvirt_uri, "qemu:///system");
    EXPECT_EQ(cfg.metrics_listen.to_string(), "127.0.0.1:9101");
    EXPECT_EQ(cfg.collect_interval, std::chrono::seconds(10));
    EXPECT_EQ(cfg.push_interval, std::chrono::seconds(60));
    EXPECT_EQ(cfg.cpu_mode, "host-model");
    EXPECT_TRUE(cfg.cpu_disable.empty());
    EXPECT_FALSE(cfg.host_name);
}

TEST(agent_config, guest_cpu_mode_and_disabled_features) {
    temp_file file(
        "hypervisor:\n  cpu_mode: host-passthrough\n  cpu_disable: [arch-capabilities]\n"
        "collector:\n  push_interval: 30s\n");
    const auto cfg = agent::load_config(file.path());
    EXPECT_EQ(cfg.cpu_mode, "host-passthrough");
    EXPECT_EQ(cfg.cpu_disable, std::vector<std::string>{"arch-capabilities"});
    EXPECT_EQ(cfg.push_interval, std::chrono::seconds(30));
    EXPECT_NE(error_loading("hypervisor:\n  cpu_mode: max\n").find("hypervisor.cpu_mode"),
              std::string::npos);
    EXPECT_NE(error_loading("hypervisor:\n  cpu_disable: [\"x'><evil/>\"]\n")
                  .find("is not a CPU feature name"),
              std::string::npos);
}

TEST(agent_config, example_file_in_the_repository_loads) {
    const auto cfg =
        agent::load_config(std::string(VPSFLEET_SOURCE_DIR) + "/agent/agent.example.yaml");
    EXPECT_EQ(cfg.host_name, "hv-fra1-01");
}

TEST(agent_config, rejects_unsupported_driver_and_bad_uri) {
    EXPECT_NE(error_loading("hypervisor:\n  driver: xen\n")
                  .find("hypervisor.driver: expected one of libvirt"),
              std::string::npos);
    EXPECT_NE(error_loading("hypervisor:\n  libvirt_uri: system\n")
                  .find("hypervisor.libvirt_uri: expected a libvirt URI"),
              std::string::npos);
}

TEST(agent_config, rejects_empty_host_name_and_too_short_interval) {
    EXPECT_NE(error_loading("host:\n  name: ''\n").find("host.name: must not be empty"),
              std::string::npos);
    EXPECT_NE(
        error_loading("collector:\n  interval: 1ms\n").find("collector.interval: must be between"),
        std::string::npos);
}
