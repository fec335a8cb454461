// IP address math and allocation modes as pure functions: parsing and canonical text, usable
// addresses at the edges (/32, /31, /30, IPv6 /127), gateway and reserved addresses skipped,
// EUI-64 from a MAC, random picks inside the range and unique, exhaustion, DNS names.
#include "coordinator/config.hpp"
#include "coordinator/ipam/allocation.hpp"
#include "coordinator/ipam/dns_name.hpp"
#include "coordinator/ipam/ipam_error.hpp"

#include "tests/support/temp_file.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>

using namespace vpsfleet::ipam;

namespace {

address ip(const std::string& text) {
    const auto a = parse_address(text);
    EXPECT_TRUE(a) << text;
    return a.value_or(address{});
}

range_rules rules(const std::string& cidr, const std::string& gateway, bool full = false,
                  allocation_mode mode = allocation_mode::sequential) {
    const auto n = parse_cidr(cidr);
    EXPECT_TRUE(n) << cidr;
    range_rules r;
    r.cidr = n.value_or(network{});
    r.gateway = ip(gateway);
    r.use_full_range = full;
    r.mode = mode;
    check_rules(r);
    return r;
}

// Allocates until the range is full; returns every address handed out, in order.
std::vector<std::string> drain(const range_rules& r, std::mt19937_64& rng,
                               std::size_t limit = 100'000) {
    std::vector<std::string> out;
    pick_input in;
    for (std::size_t i = 0; i < limit; ++i) {
        try {
            const address a = pick_address(r, in, rng);
            in.live.push_back(a.value);
            out.push_back(to_string(a));
        } catch (const ipam_error& e) {
            EXPECT_EQ(e.code, "range_exhausted");
            return out;
        }
    }
    ADD_FAILURE() << "never exhausted";
    return out;
}

std::string code_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const ipam_error& e) {
        return e.code;
    }
    return "";
}

}  // namespace

TEST(ipam_address, parses_and_prints_canonical_text) {
    EXPECT_EQ(to_string(ip("192.0.2.7")), "192.0.2.7");
    EXPECT_EQ(to_string(ip("2001:DB8:0:0:0::1")), "2001:db8::1");
    EXPECT_EQ(to_string(*parse_cidr("2001:0db8:0001::/48")), "2001:db8:1::/48");
    EXPECT_FALSE(parse_address("192.0.2.256"));
    EXPECT_FALSE(parse_address("192.0.2.7/32"));
    EXPECT_FALSE(parse_address("example.com"));
    EXPECT_FALSE(parse_cidr("192.0.2.1/24")) << "host bits set";
    EXPECT_FALSE(parse_cidr("192.0.2.0/33"));
    EXPECT_FALSE(parse_cidr("192.0.2.0/"));
    EXPECT_FALSE(parse_cidr("192.0.2.0/24x"));
    EXPECT_TRUE(parse_cidr("0.0.0.0/0"));
    const auto wide = *parse_cidr("2001:db8::/32");
    EXPECT_EQ(to_string(address{6, last_of(wide)}), "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
    EXPECT_TRUE(overlaps(*parse_cidr("10.0.0.0/8"), *parse_cidr("10.1.2.0/24")));
    EXPECT_FALSE(overlaps(*parse_cidr("10.0.0.0/25"), *parse_cidr("10.0.0.128/25")));
}

TEST(ipam_allocation, a_slash_32_hands_out_its_one_address_with_a_gateway_elsewhere) {
    const auto r = rules("203.0.113.9/32", "203.0.113.1");
    std::mt19937_64 rng(1);
    EXPECT_EQ(drain(r, rng), std::vector<std::string>{"203.0.113.9"});
    // Its gateway must still be of its family.
    range_rules bad = r;
    bad.gateway = ip("2001:db8::1");
    EXPECT_EQ(code_of([&] { check_rules(bad); }), "invalid_address");
}

TEST(ipam_allocation, a_slash_31_uses_both_addresses_but_the_gateway) {
    std::mt19937_64 rng(1);
    EXPECT_EQ(drain(rules("198.51.100.4/31", "198.51.100.4"), rng),
              std::vector<std::string>{"198.51.100.5"});
    EXPECT_TRUE(is_usable(rules("198.51.100.4/31", "198.51.100.5"), ip("198.51.100.4")));
}

TEST(ipam_allocation, a_slash_30_excludes_network_and_broadcast_unless_full_range) {
    std::mt19937_64 rng(1);
    EXPECT_EQ(drain(rules("192.0.2.0/30", "192.0.2.1"), rng),
              std::vector<std::string>{"192.0.2.2"});
    EXPECT_EQ(drain(rules("192.0.2.0/30", "192.0.2.1", true), rng),
              (std::vector<std::string>{"192.0.2.0", "192.0.2.2", "192.0.2.3"}));
    const auto r = rules("192.0.2.0/30", "192.0.2.1");
    EXPECT_EQ(code_of([&] { require_usable(r, ip("192.0.2.0")); }), "ip_not_usable");
    EXPECT_EQ(code_of([&] { require_usable(r, ip("192.0.2.3")); }), "ip_not_usable");
    EXPECT_EQ(code_of([&] { require_usable(r, ip("192.0.2.1")); }), "ip_not_usable");
    EXPECT_EQ(code_of([&] { require_usable(r, ip("192.0.2.4")); }), "ip_not_in_range");
    EXPECT_EQ(code_of([&] { require_usable(r, ip("2001:db8::2")); }), "ip_not_in_range");
}

TEST(ipam_allocation, ipv6_slash_127_uses_both_addresses) {
    std::mt19937_64 rng(1);
    EXPECT_EQ(drain(rules("2001:db8::a/127", "2001:db8::a"), rng),
              std::vector<std::string>{"2001:db8::b"});
    EXPECT_EQ(drain(rules("2001:db8::a/127", "2001:db8::a", true), rng),
              std::vector<std::string>{"2001:db8::b"});
    range_rules outside = rules("2001:db8::a/127", "2001:db8::a");
    outside.gateway = ip("2001:db8::1:1");
    EXPECT_EQ(code_of([&] { check_rules(outside); }), "invalid_address")
        << "only a single-address range has its gateway elsewhere";
}

TEST(ipam_allocation, gateway_and_reserved_addresses_are_skipped) {
    auto r = rules("10.20.0.0/29", "10.20.0.1");
    r.reserved = {ip("10.20.0.2"), ip("10.20.0.4")};
    check_rules(r);
    std::mt19937_64 rng(1);
    EXPECT_EQ(drain(r, rng), (std::vector<std::string>{"10.20.0.3", "10.20.0.5", "10.20.0.6"}));
    r.reserved.push_back(ip("10.20.1.1"));
    EXPECT_EQ(code_of([&] { check_rules(r); }), "invalid_address");
}

TEST(ipam_allocation, sequential_takes_the_lowest_free_and_skips_cooling_addresses) {
    const auto r = rules("10.0.0.0/24", "10.0.0.1");
    std::mt19937_64 rng(1);
    pick_input in;
    in.live = {ip("10.0.0.2").value, ip("10.0.0.4").value};
    in.cooling = {ip("10.0.0.3").value};
    EXPECT_EQ(to_string(pick_address(r, in, rng)), "10.0.0.5");
    in.cooling.clear();
    EXPECT_EQ(to_string(pick_address(r, in, rng)), "10.0.0.3");
}

TEST(ipam_allocation, slaac_eui64_derives_the_address_from_the_mac) {
    const auto r =
        rules("2001:db8:1:2::/64", "2001:db8:1:2::1", false, allocation_mode::slaac_eui64);
    std::mt19937_64 rng(1);
    pick_input in;
    in.mac = parse_mac("52:54:00:12:34:56");
    EXPECT_EQ(to_string(pick_address(r, in, rng)), "2001:db8:1:2:5054:ff:fe12:3456");
    // RFC 4291 appendix A: the universal/local bit is inverted (00 -> 02).
    in.mac = parse_mac("00-0C-29-0C-47-D5");
    EXPECT_EQ(to_string(pick_address(r, in, rng)), "2001:db8:1:2:20c:29ff:fe0c:47d5");
    in.live = {ip("2001:db8:1:2:20c:29ff:fe0c:47d5").value};
    EXPECT_EQ(code_of([&] { pick_address(r, in, rng); }), "ip_taken");
    in.mac.reset();
    EXPECT_EQ(code_of([&] { pick_address(r, in, rng); }), "invalid_mac");

    auto v4 = rules("192.0.2.0/24", "192.0.2.1");
    v4.mode = allocation_mode::slaac_eui64;
    EXPECT_EQ(code_of([&] { check_rules(v4); }), "invalid_mode");
    pick_input with_mac;
    with_mac.mac = parse_mac("52:54:00:12:34:56");
    EXPECT_EQ(code_of([&] { pick_address(v4, with_mac, rng); }), "invalid_mode");
    auto wide = rules("2001:db8::/48", "2001:db8::1");
    wide.mode = allocation_mode::slaac_eui64;
    EXPECT_EQ(code_of([&] { check_rules(wide); }), "invalid_mode");
}

TEST(ipam_allocation, random_stays_inside_is_unique_and_reaches_every_address) {
    const auto r = rules("172.16.5.0/27", "172.16.5.1", false, allocation_mode::random);
    std::mt19937_64 rng(42);
    const auto all = drain(r, rng);
    ASSERT_EQ(all.size(), 29u) << "30 usable minus the gateway";
    const std::set<std::string> unique(all.begin(), all.end());
    EXPECT_EQ(unique.size(), all.size());
    for (const auto& a : all) {
        EXPECT_TRUE(is_usable(r, ip(a))) << a;
    }
    EXPECT_NE(all, [] {
        std::vector<std::string> sorted;
        for (int i = 2; i <= 30; ++i) sorted.push_back("172.16.5." + std::to_string(i));
        return sorted;
    }()) << "not simply sequential";

    // Uniform among the free ones: 5 usable addresses, 5000 picks, each about 1000 times.
    const auto small = rules("10.9.9.0/29", "10.9.9.1", false, allocation_mode::random);
    std::map<std::string, int> seen;
    for (int i = 0; i < 5000; ++i) ++seen[to_string(pick_address(small, {}, rng))];
    ASSERT_EQ(seen.size(), 5u);
    for (const auto& [a, n] : seen) {
        EXPECT_GT(n, 800) << a;
        EXPECT_LT(n, 1200) << a;
    }
}

TEST(ipam_allocation, random_in_a_slash_64_probes_without_scanning_and_finds_the_last_gap) {
    const auto r = rules("2001:db8:5::/64", "2001:db8:5::1", false, allocation_mode::random);
    std::mt19937_64 rng(7);
    pick_input in;
    std::set<u128> picked;
    for (int i = 0; i < 500; ++i) {
        const address a = pick_address(r, in, rng);
        EXPECT_TRUE(contains(r.cidr, a));
        EXPECT_TRUE(picked.insert(a.value).second) << to_string(a);
        in.live.push_back(a.value);
    }
    // A large range with one free address left: the probes miss, the bounded walk finds it.
    const auto big = rules("2001:db8:6::/111", "2001:db8:6::1", true, allocation_mode::random);
    const u128 first = first_of(big.cidr);
    const u128 free = first + 77'777;
    pick_input full;
    for (u128 a = first; a <= last_of(big.cidr); ++a) {
        if (a != free) full.live.push_back(a);
    }
    EXPECT_EQ(pick_address(big, full, rng).value, free);
    full.live.push_back(free);
    EXPECT_EQ(code_of([&] { pick_address(big, full, rng); }), "range_exhausted");
}

TEST(ipam_dns, names_are_validated_and_normalized) {
    EXPECT_EQ(normalize_dns_name("Mail.Example.COM.", "dns_forward"), "mail.example.com");
    EXPECT_EQ(normalize_dns_name("7.2.0.192.in-addr.arpa", "dns_reverse"),
              "7.2.0.192.in-addr.arpa");
    const std::string label63(63, 'a');
    EXPECT_NO_THROW(normalize_dns_name(label63 + ".example.com", "f"));
    for (const std::string& bad : std::vector<std::string>{
             "", ".", "localhost", "-a.example.com", "a-.example.com", "a..example.com",
             ".example.com", "under_score.example.com", "sp ace.example.com", "a.example.com..",
             label63 + "a.example.com"}) {
        EXPECT_EQ(code_of([&] { normalize_dns_name(bad, "dns_reverse"); }), "invalid_dns_name")
            << "'" << bad << "'";
    }
    std::string long_name;
    while (long_name.size() < 251) long_name += "abcdefghi.";
    long_name += "com";
    EXPECT_EQ(code_of([&] { normalize_dns_name(long_name, "f"); }), "invalid_dns_name");
    try {
        normalize_dns_name("bad_name.example.com", "dns_reverse");
    } catch (const ipam_error& e) {
        EXPECT_NE(std::string(e.what()).find("dns_reverse"), std::string::npos) << e.what();
    }
}

TEST(ipam_config, the_release_cooldown_is_read_from_the_ipam_section) {
    using vpsfleet::testing::temp_file;
    const std::string db = "database:\n  url: postgresql://x@127.0.0.1/x\n";
    temp_file plain(db);
    EXPECT_EQ(vpsfleet::coordinator::load_config(plain.path()).ipam.release_cooldown,
              std::chrono::hours(1));
    temp_file set(db + "ipam:\n  release_cooldown: 90s\n");
    EXPECT_EQ(vpsfleet::coordinator::load_config(set.path()).ipam.release_cooldown,
              std::chrono::seconds(90));
    temp_file bad(db + "ipam:\n  release_cooldwn: 90s\n");
    try {
        vpsfleet::coordinator::load_config(bad.path());
        ADD_FAILURE() << "a misspelt key was accepted";
    } catch (const std::exception& e) {
        EXPECT_NE(std::string(e.what()).find("ipam.release_cooldwn"), std::string::npos)
            << e.what();
    }
}
