// hypervisor.driver: proxmox in the agent's configuration, and the driver it makes.
#include "agent/config.hpp"
#include "agent/driver/make_driver.hpp"
#include "tests/fakes/fake_proxmox.hpp"
#include "tests/support/temp_file.hpp"

#include <gtest/gtest.h>

namespace vpsfleet::testing {
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

bool says(const std::string& error, const std::string& part) {
    return error.find(part) != std::string::npos;
}

TEST(proxmox_config, a_token_configuration_makes_a_working_proxmox_driver) {
    fake_proxmox pve;
    temp_file ca(pve.ca_pem(), ".pem");
    temp_file file("hypervisor:\n  driver: proxmox\n  proxmox:\n    url: " + pve.url() +
                   "\n    node: " + pve.node() + "\n    token_id: \"" + pve.token_id() +
                   "\"\n    token_secret: " + pve.token_secret() + "\n    ca_file: " + ca.path() +
                   "\n");
    const auto cfg = agent::load_config(file.path());
    EXPECT_EQ(cfg.driver, "proxmox");
    EXPECT_EQ(cfg.proxmox.node, "pve1");
    EXPECT_EQ(cfg.proxmox.ca_pem, pve.ca_pem());
    auto driver = agent::driver::make_driver(cfg);
    EXPECT_EQ(driver->kind(), "proxmox");
    auto facts = driver->facts();
    ASSERT_TRUE(facts) << facts.error().message;
    EXPECT_EQ(facts->hostname, "pve1");
    EXPECT_EQ(facts->cpus, 16u);
}

TEST(proxmox_config, says_what_is_missing_or_wrong) {
    const std::string head = "hypervisor:\n  driver: proxmox\n  proxmox:\n";
    EXPECT_TRUE(says(error_loading(head + "    token_id: a@pve!t\n    token_secret: s\n"),
                     "hypervisor.proxmox.node: is required"));
    EXPECT_TRUE(says(error_loading(head + "    node: pve1\n"), "hypervisor.proxmox.token_id"));
    EXPECT_TRUE(says(error_loading(head + "    node: pve1\n    token_id: agent\n    "
                                          "token_secret: s\n"),
                     "expected user@realm!tokenid"));
    EXPECT_TRUE(says(error_loading(head + "    node: pve1\n    token_id: a@pve!t\n    "
                                          "token_secret: s\n    user: root@pam\n"),
                     "either token_id and token_secret, or user and password"));
    EXPECT_TRUE(says(error_loading(head + "    node: pve1\n    user: root\n    password: x\n"),
                     "hypervisor.proxmox.user: expected user@realm"));
    EXPECT_TRUE(says(error_loading(head + "    url: http://pve:8006\n    node: pve1\n    "
                                          "user: root@pam\n    password: x\n"),
                     "hypervisor.proxmox.url: expected https://"));
    EXPECT_TRUE(says(error_loading(head + "    node: pve1\n    user: root@pam\n    password: x\n"
                                          "    ca_file: /nonexistent/ca.pem\n"),
                     "hypervisor.proxmox.ca_file: cannot read a PEM certificate"));
    EXPECT_TRUE(says(error_loading(head + "    node: pve1\n    user: root@pam\n    password: x\n"
                                          "    verify: no\n"),
                     "verify"));
    EXPECT_EQ(error_loading(head + "    node: pve1\n    user: root@pam\n    password: x\n"),
              "no error");
}

}  // namespace
}  // namespace vpsfleet::testing
