// The agent's half of the per-VM firewall: the network-filter XML a VM's rules become (checked
// against the exact expected document and against libvirt's own RelaxNG schema), the filterref
// edit of a domain, and what the libvirt driver and the vm.firewall command really do on
// test:///, which has no network filter driver and no live device updates.
#include "agent/driver/libvirt/nwfilter_xml.hpp"
#include "agent/link/vm_commands.hpp"
#include "tests/unit/libvirt_test_host.hpp"

#include <libxml/parser.h>
#include <libxml/relaxng.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <filesystem>
#include <regex>

using namespace vpsfleet::agent;
using namespace vpsfleet::testing;
using driver::errc;
using json = nlohmann::json;

namespace {

constexpr const char* k_uuid = "0b7c2a9e-3d4f-4e5a-8b6c-7d8e9f0a1b2c";
constexpr const char* k_schema = "/usr/share/libvirt/schemas/nwfilter.rng";

driver::firewall_rule tcp_in(std::vector<driver::port_range> ports) {
    driver::firewall_rule r;
    r.protocol = "tcp";
    r.destination_ports = std::move(ports);
    return r;
}

// A VM at 203.0.113.10 and 2001:db8::10 with five rules that cover the mapping: a v4 source CIDR
// and a comment, a port list over both families, icmp, an outbound v6 drop with a port range, and
// a reject of any protocol from one address.
driver::firewall_spec sample_spec() {
    driver::firewall_spec s;
    s.mac = "52:54:00:AB:CD:EF";
    s.ipv4 = {"203.0.113.10"};
    s.ipv6 = {"2001:DB8::10"};
    auto ssh = tcp_in({{22, 22}});
    ssh.source = "198.51.100.0/24";
    ssh.comment = "fwr_ssh";
    driver::firewall_rule icmp;
    icmp.protocol = "icmp";
    driver::firewall_rule smtp;
    smtp.direction = driver::firewall_direction::out;
    smtp.action = driver::firewall_action::drop;
    smtp.protocol = "udp";
    smtp.destination = "2001:db8:ffff::/48";
    smtp.destination_ports = {{25, 26}};
    driver::firewall_rule banned;
    banned.action = driver::firewall_action::reject;
    banned.source = "192.0.2.7";
    s.rules = {ssh, tcp_in({{80, 80}, {443, 443}}), icmp, smtp, banned};
    return s;
}

std::string rule(const std::string& action, const std::string& direction, int priority,
                 const std::string& body, bool statematch = true) {
    return "  <rule action='" + action + "' direction='" + direction + "' priority='" +
           std::to_string(priority) + "'" + (statematch ? "" : " statematch='false'") + ">\n    " +
           body + "\n  </rule>\n";
}

// Errors libxml2 reports while validating, collected for the failure message.
void collect(void* ctx, const char* format, ...) {
    char buf[1024];
    va_list args;
    va_start(args, format);
    std::vsnprintf(buf, sizeof buf, format, args);
    va_end(args);
    *static_cast<std::string*>(ctx) += buf;
}

// Validates a filter against the schema libvirt ships. The schema lags libvirt's parser in one
// place: its IPv6 protocol elements lack the `state` attribute that the parser accepts for them
// (src/conf/nwfilter_conf.c builds every IPv4 and IPv6 element from COMMON_IP_PROPS, which has
// it, and formatnwfilter documents it), so that one attribute is taken off IPv6 elements first.
::testing::AssertionResult valid_against_schema(const std::string& filter) {
    if (!std::filesystem::exists(k_schema))
        return ::testing::AssertionFailure() << k_schema << " is missing (package libvirt0)";
    static const std::regex ipv6_state(R"((<[a-z]+-ipv6[^>]*?) state='[A-Z,]+')");
    const std::string text = std::regex_replace(filter, ipv6_state, "$1");
    std::string errors;
    xmlRelaxNGParserCtxtPtr parser = xmlRelaxNGNewParserCtxt(k_schema);
    xmlRelaxNGPtr schema = xmlRelaxNGParse(parser);
    xmlRelaxNGValidCtxtPtr valid = xmlRelaxNGNewValidCtxt(schema);
    xmlRelaxNGSetValidErrors(valid, collect, collect, &errors);
    xmlDocPtr doc = xmlReadMemory(text.data(), static_cast<int>(text.size()), "filter.xml", nullptr,
                                  XML_PARSE_NONET);
    const int rc = doc ? xmlRelaxNGValidateDoc(valid, doc) : -1;
    if (doc) xmlFreeDoc(doc);
    xmlRelaxNGFreeValidCtxt(valid);
    xmlRelaxNGFree(schema);
    xmlRelaxNGFreeParserCtxt(parser);
    if (rc == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "not valid nwfilter XML: " << errors << "\n" << text;
}

driver::errc error_of(const driver::firewall_spec& spec, std::string* message = nullptr) {
    auto r = libvirt::build_nwfilter_xml(k_uuid, spec);
    if (r) return errc::failed;
    if (message) *message = r.error().message;
    return r.error().code;
}

// A VM defined by the driver, whose definition is then edited through the same connection to
// reference a filter (as the driver would leave it on a host with a network filter driver).
struct filtered_vm : libvirt_test_host {
    filtered_vm() {
        auto r = driver->define(spec());
        if (!r) throw std::runtime_error(r.error().message);
        auto edit = libvirt::set_filterref(xml("vm1"), "52:54:00:12:34:56",
                                           libvirt::firewall_filter_name(k_vm_uuid));
        if (!edit) throw std::runtime_error("vm1 has no NIC 52:54:00:12:34:56");
        virDomainPtr d = virDomainDefineXML(driver->native(), edit->domain_xml.c_str());
        if (!d) throw std::runtime_error("define with a filterref failed");
        virDomainFree(d);
    }
};

driver::firewall_spec no_rules() {
    driver::firewall_spec s;
    s.mac = "52:54:00:12:34:56";
    return s;
}

}  // namespace

TEST(nwfilter_xml, rules_become_the_expected_filter_in_order_after_anti_spoofing) {
    const auto xml = libvirt::build_nwfilter_xml(k_uuid, sample_spec());
    ASSERT_TRUE(xml) << xml.error().message;
    const std::string mac = "52:54:00:ab:cd:ef";  // as libvirt writes MACs
    std::string expected =
        "<filter name='vpsfleet-fw-0b7c2a9e-3d4f-4e5a-8b6c-7d8e9f0a1b2c' chain='root'>\n"
        "  <uuid>0b7c2a9e-3d4f-4e5a-8b6c-7d8e9f0a1b2c</uuid>\n"
        "  <!-- the VM sends only from its own MAC and addresses -->\n";
    expected += rule("drop", "out", -1000, "<mac match='no' srcmacaddr='" + mac + "'/>");
    expected += rule("return", "out", -990,
                     "<ip srcipaddr='0.0.0.0' dstipaddr='255.255.255.255' protocol='udp' "
                     "srcportstart='68' dstportstart='67'/>");
    expected += rule("return", "out", -989, "<ip srcipaddr='203.0.113.10'/>");
    expected += rule("drop", "out", -988, "<ip/>");
    expected += rule("return", "out", -980, "<ipv6 srcipaddr='fe80::' srcipmask='10'/>");
    expected += rule("return", "out", -980, "<ipv6 srcipaddr='::' srcipmask='128'/>");
    expected += rule("return", "out", -979, "<ipv6 srcipaddr='2001:db8::10' srcipmask='128'/>");
    expected += rule("drop", "out", -978, "<ipv6/>");
    expected += rule("drop", "out", -970, "<arp match='no' arpsrcmacaddr='" + mac + "'/>");
    expected += rule("return", "out", -969, "<arp arpsrcipaddr='0.0.0.0'/>");
    expected += rule("return", "out", -969, "<arp arpsrcipaddr='203.0.113.10'/>");
    expected += rule("drop", "out", -968, "<arp/>");
    expected += "  <!-- established connections; what connection tracking misses -->\n";
    expected += rule("accept", "in", -950, "<all state='ESTABLISHED,RELATED'/>");
    expected += rule("accept", "out", -950, "<all state='ESTABLISHED,RELATED'/>");
    expected += rule("accept", "in", -950, "<all-ipv6 state='ESTABLISHED,RELATED'/>");
    expected += rule("accept", "out", -950, "<all-ipv6 state='ESTABLISHED,RELATED'/>");
    expected += rule("accept", "in", -949, "<udp srcportstart='67' dstportstart='68'/>", false);
    expected +=
        rule("accept", "in", -949, "<udp-ipv6 srcportstart='547' dstportstart='546'/>", false);
    for (int type = 133; type <= 136; ++type)
        expected +=
            rule("accept", "in", -949, "<icmpv6 type='" + std::to_string(type) + "'/>", false);
    expected += "  <!-- the VM's rules, in order -->\n";
    expected += rule("accept", "in", -900,
                     "<tcp srcipaddr='198.51.100.0' srcipmask='24' dstportstart='22' "
                     "comment='vpsfleet fwr_ssh'/>");
    expected += rule("accept", "in", -899, "<tcp dstportstart='80'/>");
    expected += rule("accept", "in", -899, "<tcp dstportstart='443'/>");
    expected += rule("accept", "in", -899, "<tcp-ipv6 dstportstart='80'/>");
    expected += rule("accept", "in", -899, "<tcp-ipv6 dstportstart='443'/>");
    expected += rule("accept", "in", -898, "<icmp/>");
    expected += rule("drop", "out", -897,
                     "<udp-ipv6 dstipaddr='2001:db8:ffff::' dstipmask='48' dstportstart='25' "
                     "dstportend='26'/>");
    expected += rule("reject", "in", -896, "<all srcipaddr='192.0.2.7'/>");
    expected += "  <!-- anything else: out goes, in stays out -->\n";
    expected += rule("accept", "out", 990, "<all/>");
    expected += rule("accept", "out", 990, "<all-ipv6/>");
    expected += rule("drop", "in", 1000, "<all/>");
    expected += rule("drop", "in", 1000, "<all-ipv6/>");
    expected += "</filter>\n";
    EXPECT_EQ(*xml, expected);
    EXPECT_TRUE(valid_against_schema(*xml));
}

TEST(nwfilter_xml, without_known_addresses_libvirt_learns_the_ipv4_and_ipv6_stays_link_local) {
    driver::firewall_spec s;
    s.mac = "52:54:00:12:34:56";
    driver::firewall_rule dns;
    dns.protocol = "udp";
    dns.destination_ports = {{53, 53}};
    s.rules = {dns};
    const auto xml = libvirt::build_nwfilter_xml(k_uuid, s);
    ASSERT_TRUE(xml) << xml.error().message;
    EXPECT_TRUE(contains(*xml, rule("return", "out", -989, "<ip srcipaddr='$IP'/>")));
    EXPECT_TRUE(contains(*xml, rule("return", "out", -969, "<arp arpsrcipaddr='$IP'/>")));
    EXPECT_FALSE(contains(*xml, "priority='-979'")) << "no own IPv6 source is allowed";
    EXPECT_TRUE(contains(*xml, rule("drop", "out", -978, "<ipv6/>")));
    EXPECT_TRUE(contains(*xml, rule("accept", "in", -900, "<udp dstportstart='53'/>")));
    EXPECT_TRUE(contains(*xml, rule("accept", "in", -900, "<udp-ipv6 dstportstart='53'/>")));
    EXPECT_TRUE(valid_against_schema(*xml));
}

TEST(nwfilter_xml, a_spec_that_cannot_be_enforced_is_refused_naming_what) {
    std::string message;
    auto s = sample_spec();
    s.mac = "01:00:5e:00:00:01";  // multicast
    EXPECT_EQ(error_of(s, &message), errc::invalid_argument);
    EXPECT_TRUE(contains(message, "mac")) << message;

    s = sample_spec();
    s.ipv4 = {"203.0.113.10/24"};
    EXPECT_EQ(error_of(s, &message), errc::invalid_argument);
    EXPECT_TRUE(contains(message, "203.0.113.10/24")) << message;

    s = sample_spec();
    s.rules[0].source = "office";
    EXPECT_EQ(error_of(s, &message), errc::invalid_argument);
    EXPECT_TRUE(contains(message, "rules[0].source")) << message;

    s = sample_spec();
    s.rules[2].source = "2001:db8::/32";  // icmp is IPv4
    EXPECT_EQ(error_of(s, &message), errc::invalid_argument);
    EXPECT_TRUE(contains(message, "rules[2]: icmp is IPv4")) << message;

    s = sample_spec();
    s.rules[2].destination_ports = {{7, 7}};
    EXPECT_EQ(error_of(s, &message), errc::invalid_argument);
    EXPECT_TRUE(contains(message, "ports need protocol tcp, udp or sctp")) << message;

    s = sample_spec();
    s.rules[1].destination_ports = {{443, 80}};
    EXPECT_EQ(error_of(s, &message), errc::invalid_argument);

    s = sample_spec();
    s.rules[0].destination = "2001:db8::1";  // its source is IPv4
    EXPECT_EQ(error_of(s, &message), errc::invalid_argument);
    EXPECT_TRUE(contains(message, "different address families")) << message;

    s = sample_spec();
    s.rules[0].protocol = "gre";
    EXPECT_EQ(error_of(s, &message), errc::invalid_argument);
}

TEST(nwfilter_xml, filterref_is_set_once_and_removed_on_the_interface_with_the_mac) {
    libvirt_test_host host;
    ASSERT_TRUE(host.driver->define(libvirt_test_host::spec()));
    const std::string before = host.xml("vm1");
    EXPECT_FALSE(libvirt::set_filterref(before, "52:54:00:00:00:99", "f").has_value());

    auto set = libvirt::set_filterref(before, "52:54:00:12:34:56", "vpsfleet-fw-x");
    ASSERT_TRUE(set);
    EXPECT_TRUE(set->changed);
    EXPECT_TRUE(contains(set->interface_xml, "<filterref filter=\"vpsfleet-fw-x\"/>"))
        << set->interface_xml;
    EXPECT_TRUE(contains(set->interface_xml, "52:54:00:12:34:56"));
    // test:/// keeps the reference in the definition, as a real host does.
    virDomainPtr d = virDomainDefineXML(host.driver->native(), set->domain_xml.c_str());
    ASSERT_NE(d, nullptr) << virGetLastErrorMessage();
    virDomainFree(d);
    const std::string stored = host.xml("vm1");
    EXPECT_TRUE(contains(stored, "<filterref filter='vpsfleet-fw-x'/>")) << stored;

    auto again = libvirt::set_filterref(stored, "52:54:00:12:34:56", "vpsfleet-fw-x");
    ASSERT_TRUE(again);
    EXPECT_FALSE(again->changed);
    auto removed = libvirt::set_filterref(stored, "52:54:00:12:34:56", "");
    ASSERT_TRUE(removed);
    EXPECT_TRUE(removed->changed);
    EXPECT_FALSE(contains(removed->domain_xml, "filterref"));
}

TEST(libvirt_firewall, rules_on_test_driver_fail_clearly_and_change_nothing) {
    libvirt_test_host host;
    auto defined = host.driver->define(libvirt_test_host::spec());
    ASSERT_TRUE(defined);
    auto spec = sample_spec();
    spec.mac = "52:54:00:12:34:56";
    auto r = host.driver->firewall("vm1", spec);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::unsupported);
    EXPECT_TRUE(contains(r.error().message, "virNWFilterDefineXML")) << r.error().message;
    EXPECT_TRUE(contains(r.error().message, "no network filter driver")) << r.error().message;
    // The interface never references a filter the host does not have: the VM still starts.
    EXPECT_FALSE(contains(host.xml("vm1"), "filterref"));
    auto started = host.driver->start("vm1");
    ASSERT_TRUE(started) << started.error().message;
    EXPECT_EQ(started->config_hash, defined->config_hash);
}

TEST(libvirt_firewall, no_rules_removes_the_filterref_from_a_stopped_vm) {
    filtered_vm host;
    ASSERT_TRUE(contains(host.xml("vm1"), "filterref"));
    auto r = host.driver->firewall("vm1", no_rules());
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->filter, "");
    EXPECT_EQ(r->rules, 0u);
    EXPECT_FALSE(r->live);
    EXPECT_FALSE(contains(host.xml("vm1"), "filterref"));
    // Nothing left to remove: the same request again is a no-op.
    auto again = host.driver->firewall("vm1", no_rules());
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(again->vm.config_hash, r->vm.config_hash);
}

TEST(libvirt_firewall, a_running_vm_keeps_its_live_filter_where_devices_cannot_be_updated) {
    filtered_vm host;
    ASSERT_TRUE(host.driver->start("vm1"));
    ASSERT_TRUE(contains(host.xml("vm1", false), "filterref"));
    auto r = host.driver->firewall("vm1", no_rules());
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, errc::unsupported);
    EXPECT_TRUE(contains(r.error().message, "virDomainUpdateDeviceFlags")) << r.error().message;
    EXPECT_TRUE(contains(r.error().message, "next start")) << r.error().message;
    EXPECT_FALSE(contains(host.xml("vm1"), "filterref")) << "the definition is updated";
    EXPECT_TRUE(contains(host.xml("vm1", false), "filterref")) << "the running VM is not";
}

TEST(libvirt_firewall, unknown_vm_and_interface_are_not_found) {
    libvirt_test_host host;
    ASSERT_TRUE(host.driver->define(libvirt_test_host::spec()));
    auto no_vm = host.driver->firewall("nope", no_rules());
    ASSERT_FALSE(no_vm);
    EXPECT_EQ(no_vm.error().code, errc::not_found);
    auto spec = no_rules();
    spec.mac = "52:54:00:00:00:99";
    auto no_nic = host.driver->firewall("vm1", spec);
    ASSERT_FALSE(no_nic);
    EXPECT_EQ(no_nic.error().code, errc::not_found);
    EXPECT_TRUE(contains(no_nic.error().message, "52:54:00:00:00:99"));
}

TEST(agent_vm_commands, vm_firewall_reads_its_rules_and_reports_the_drivers_answer) {
    filtered_vm host;
    const json args = {{"vm", k_vm_uuid},
                       {"mac", "52:54:00:12:34:56"},
                       {"ipv4", {"203.0.113.10"}},
                       {"ipv6", json::array()},
                       {"rules",
                        {{{"direction", "in"},
                          {"action", "accept"},
                          {"protocol", "tcp"},
                          {"source", "198.51.100.0/24"},
                          {"destination_ports", {{{"from", 22}, {"to", 22}}}},
                          {"comment", "fwr_ssh"}}}}};
    auto job = link::make_vm_job("vm.firewall", args);
    ASSERT_TRUE(job);
    auto applied = (*job)(*host.driver);
    ASSERT_FALSE(applied);
    EXPECT_EQ(driver::to_string(applied.error().code), "unsupported");

    json none = args;
    none["rules"] = json::array();
    auto cleared = (*link::make_vm_job("vm.firewall", none))(*host.driver);
    ASSERT_TRUE(cleared) << cleared.error().message;
    EXPECT_TRUE((*cleared)["filter"].is_null());
    EXPECT_EQ((*cleared)["rules"], 0);
    EXPECT_EQ((*cleared)["live"], false);
    EXPECT_EQ((*cleared)["uuid"], k_vm_uuid);

    json bad = args;
    bad["rules"][0]["direction"] = "sideways";
    EXPECT_THROW(link::make_vm_job("vm.firewall", bad), link::args_error);
    bad = args;
    bad["rules"][0]["destination_ports"][0]["from"] = 70000;
    EXPECT_THROW(link::make_vm_job("vm.firewall", bad), link::args_error);
    EXPECT_NE(
        std::find(link::vm_command_kinds().begin(), link::vm_command_kinds().end(), "vm.firewall"),
        link::vm_command_kinds().end());
}
