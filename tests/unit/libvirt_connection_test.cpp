#include "agent/driver/libvirt/connection.hpp"
#include "tests/support/temp_file.hpp"

#include <gtest/gtest.h>

using namespace vpsfleet::agent::libvirt;
using vpsfleet::testing::temp_file;

TEST(libvirt_connection, reads_facts_of_the_default_test_host) {
    connection conn("test:///default");
    EXPECT_TRUE(conn.alive());
    const auto facts = conn.facts();
    EXPECT_EQ(facts.cpus, 16u);
    EXPECT_EQ(facts.memory_bytes, 3145728ull * 1024);
    EXPECT_EQ(facts.domains_by_state.at("running"), 1u);
}

TEST(libvirt_connection, reads_a_host_defined_by_a_node_file) {
    temp_file node(R"(<node>
  <cpu><mhz>2600</mhz><model>x86_64</model><active>12</active><nodes>1</nodes>
       <sockets>1</sockets><cores>6</cores><threads>2</threads></cpu>
  <memory>33554432</memory>
  <domain type="test"><name>a</name><memory>1048576</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>
  <domain type="test" xmlns:test="http://libvirt.org/schemas/domain/test/1.0"><name>b</name>
    <memory>1048576</memory><vcpu>1</vcpu><os><type>hvm</type></os><test:runstate>5</test:runstate></domain>
</node>)",
                   ".xml");
    connection conn("test://" + node.path());
    const auto facts = conn.facts();
    EXPECT_EQ(facts.cpus, 12u);
    EXPECT_EQ(facts.cpu_mhz, 2600u);
    EXPECT_EQ(facts.memory_bytes, 32ull * 1024 * 1024 * 1024);
    EXPECT_EQ(facts.domains_by_state.at("running"), 1u);
    EXPECT_EQ(facts.domains_by_state.at("shutoff"), 1u);
}

TEST(libvirt_connection, failure_carries_libvirts_message) {
    try {
        connection conn("test:///nonexistent/node.xml");
        FAIL() << "opened a missing node file";
    } catch (const libvirt_error& e) {
        const std::string msg = e.what();
        EXPECT_NE(msg.find("cannot connect to test:///nonexistent/node.xml: "), std::string::npos)
            << msg;
        EXPECT_GT(msg.size(),
                  std::string("cannot connect to test:///nonexistent/node.xml: ").size());
    }
}
