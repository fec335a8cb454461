#include "agent/driver/libvirt/nwfilter_xml.hpp"

#include "agent/driver/libvirt/domain_xml.hpp"
#include "agent/driver/libvirt/xml.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <string_view>

namespace vpsfleet::agent::libvirt {

using driver::errc;
using driver::firewall_rule;
using driver::make_error;
using xml::escape;

namespace {

constexpr int k_first_rule_priority = -900;
constexpr int k_last_rule_priority = 989;  // the defaults start at 990
constexpr std::size_t k_max_comment = 200;

struct address {
    int family = 4;  // 4 or 6
    std::string text;
    std::optional<int> prefix;
};

// "192.0.2.1", "192.0.2.0/24", "2001:db8::/32" in canonical form; nullopt when it is none.
std::optional<address> parse_address(const std::string& input) {
    const auto slash = input.find('/');
    const std::string host = input.substr(0, slash);
    address out;
    std::array<unsigned char, 16> raw{};
    char buf[INET6_ADDRSTRLEN] = {};
    if (inet_pton(AF_INET, host.c_str(), raw.data()) == 1) {
        out.family = 4;
        inet_ntop(AF_INET, raw.data(), buf, sizeof buf);
    } else if (inet_pton(AF_INET6, host.c_str(), raw.data()) == 1) {
        out.family = 6;
        inet_ntop(AF_INET6, raw.data(), buf, sizeof buf);
    } else {
        return std::nullopt;
    }
    out.text = buf;
    if (slash != std::string::npos) {
        const std::string len = input.substr(slash + 1);
        int value = -1;
        const auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), value);
        if (ec != std::errc{} || end != len.data() + len.size() || len.empty() || value < 0 ||
            value > (out.family == 4 ? 32 : 128))
            return std::nullopt;
        out.prefix = value;
    }
    return out;
}

std::string attr(const char* name, const std::string& value) {
    return std::string(" ") + name + "='" + escape(value) + "'";
}

std::string rule(const char* action, const char* direction, int priority, const std::string& body,
                 bool statematch = true) {
    std::string out = std::string("  <rule") + attr("action", action) +
                      attr("direction", direction) + attr("priority", std::to_string(priority));
    if (!statematch) out += " statematch='false'";
    return out + ">\n    " + body + "\n  </rule>\n";
}

const char* action_name(driver::firewall_action a) {
    switch (a) {
        case driver::firewall_action::accept:
            return "accept";
        case driver::firewall_action::drop:
            return "drop";
        case driver::firewall_action::reject:
            break;
    }
    return "reject";
}

bool takes_ports(const std::string& protocol) {
    return protocol == "tcp" || protocol == "udp" || protocol == "sctp";
}

// The nwfilter protocol element for a protocol in one address family.
std::string element(const std::string& protocol, int family) {
    const std::string name = protocol.empty() ? "all" : protocol;
    if (family == 4 || name == "icmpv6") return name;
    return name + "-ipv6";
}

// The families a rule applies to: those of its addresses, of its protocol, else both.
driver::result<std::vector<int>> families(const firewall_rule& r, std::size_t index,
                                          const std::optional<address>& src,
                                          const std::optional<address>& dst) {
    const std::string where = "rules[" + std::to_string(index) + "]";
    std::optional<int> family;
    if (src) family = src->family;
    if (dst) {
        if (family && *family != dst->family)
            return make_error(errc::invalid_argument,
                              where + ": source and destination are of different address families");
        family = dst->family;
    }
    if (r.protocol == "icmp") {
        if (family == 6)
            return make_error(errc::invalid_argument, where + ": icmp is IPv4; use icmpv6");
        family = 4;
    } else if (r.protocol == "icmpv6") {
        if (family == 4)
            return make_error(errc::invalid_argument, where + ": icmpv6 is IPv6; use icmp");
        family = 6;
    }
    if (family) return std::vector<int>{*family};
    return std::vector<int>{4, 6};
}

driver::result<void> check_ports(const std::vector<driver::port_range>& ports,
                                 const std::string& where) {
    for (const auto& p : ports) {
        if (p.from == 0 || p.to < p.from)
            return make_error(errc::invalid_argument, where + ": " + std::to_string(p.from) + ":" +
                                                          std::to_string(p.to) +
                                                          " is not a port range within 1-65535");
    }
    return {};
}

std::string ip_attrs(const char* side, const std::optional<address>& a) {
    if (!a) return "";
    std::string out = attr((std::string(side) + "ipaddr").c_str(), a->text);
    if (a->prefix) out += attr((std::string(side) + "ipmask").c_str(), std::to_string(*a->prefix));
    return out;
}

std::string port_attrs(const char* side, const std::optional<driver::port_range>& p) {
    if (!p) return "";
    std::string out = attr((std::string(side) + "portstart").c_str(), std::to_string(p->from));
    if (p->to != p->from)
        out += attr((std::string(side) + "portend").c_str(), std::to_string(p->to));
    return out;
}

std::string clean_comment(const std::string& in) {
    std::string out;
    for (char c : in.substr(0, k_max_comment))
        out += (std::isalnum(static_cast<unsigned char>(c)) ||
                std::string_view(" _.:-#").find(c) != std::string_view::npos)
                   ? c
                   : '_';
    return out;
}

// The customer's rule i, expanded over address families and port combinations.
driver::result<std::string> customer_rule(const firewall_rule& r, std::size_t index) {
    const std::string where = "rules[" + std::to_string(index) + "]";
    static const std::vector<std::string> k_protocols = {"",     "tcp",    "udp", "sctp", "udplite",
                                                         "icmp", "icmpv6", "esp", "ah"};
    if (std::find(k_protocols.begin(), k_protocols.end(), r.protocol) == k_protocols.end())
        return make_error(errc::invalid_argument,
                          where + ": protocol '" + r.protocol +
                              "' is not one of tcp, udp, sctp, udplite, icmp, icmpv6, esp, ah");
    if ((!r.source_ports.empty() || !r.destination_ports.empty()) && !takes_ports(r.protocol))
        return make_error(errc::invalid_argument, where + ": ports need protocol tcp, udp or sctp");
    if (auto ok = check_ports(r.source_ports, where + ".source_ports"); !ok) return ok.error();
    if (auto ok = check_ports(r.destination_ports, where + ".destination_ports"); !ok)
        return ok.error();
    std::optional<address> src, dst;
    if (r.source) {
        src = parse_address(*r.source);
        if (!src)
            return make_error(errc::invalid_argument,
                              where + ".source: '" + *r.source + "' is not an address or CIDR");
    }
    if (r.destination) {
        dst = parse_address(*r.destination);
        if (!dst)
            return make_error(errc::invalid_argument, where + ".destination: '" + *r.destination +
                                                          "' is not an address or CIDR");
    }
    auto fams = families(r, index, src, dst);
    if (!fams) return fams.error();

    using port_choice = std::optional<driver::port_range>;
    std::vector<port_choice> sports(r.source_ports.begin(), r.source_ports.end());
    std::vector<port_choice> dports(r.destination_ports.begin(), r.destination_ports.end());
    if (sports.empty()) sports.push_back(std::nullopt);
    if (dports.empty()) dports.push_back(std::nullopt);

    const char* direction = r.direction == driver::firewall_direction::in ? "in" : "out";
    const int priority = k_first_rule_priority + static_cast<int>(index);
    const std::string comment =
        r.comment.empty() ? "" : attr("comment", clean_comment("vpsfleet " + r.comment));
    std::string out;
    for (int family : *fams) {
        for (const auto& sp : sports) {
            for (const auto& dp : dports) {
                const std::string body = "<" + element(r.protocol, family) + ip_attrs("src", src) +
                                         ip_attrs("dst", dst) + port_attrs("src", sp) +
                                         port_attrs("dst", dp) + comment + "/>";
                out += rule(action_name(r.action), direction, priority, body);
            }
        }
    }
    return out;
}

// The VM's own addresses of one family, canonical; none of them may carry a prefix other than
// the full host one.
driver::result<std::vector<std::string>> own_addresses(const std::vector<std::string>& list,
                                                       int family) {
    std::vector<std::string> out;
    for (const auto& a : list) {
        const auto parsed = parse_address(a);
        if (!parsed || parsed->family != family ||
            (parsed->prefix && *parsed->prefix != (family == 4 ? 32 : 128)))
            return make_error(errc::invalid_argument, std::string(family == 4 ? "ipv4" : "ipv6") +
                                                          ": '" + a + "' is not an IPv" +
                                                          std::to_string(family) + " host address");
        out.push_back(parsed->text);
    }
    return out;
}

std::string anti_spoofing(const std::string& mac, const std::vector<std::string>& v4,
                          const std::vector<std::string>& v6) {
    std::string out = "  <!-- the VM sends only from its own MAC and addresses -->\n";
    out += rule("drop", "out", -1000, "<mac match='no'" + attr("srcmacaddr", mac) + "/>");
    out += rule("return", "out", -990,
                "<ip srcipaddr='0.0.0.0' dstipaddr='255.255.255.255' protocol='udp' "
                "srcportstart='68' dstportstart='67'/>");
    // Without a known address, libvirt learns the one the VM uses ($IP), as clean-traffic does.
    const std::vector<std::string> ips = v4.empty() ? std::vector<std::string>{"$IP"} : v4;
    for (const auto& ip : ips)
        out += rule("return", "out", -989, "<ip" + attr("srcipaddr", ip) + "/>");
    out += rule("drop", "out", -988, "<ip/>");
    out += rule("return", "out", -980, "<ipv6 srcipaddr='fe80::' srcipmask='10'/>");
    out += rule("return", "out", -980, "<ipv6 srcipaddr='::' srcipmask='128'/>");
    for (const auto& ip : v6)
        out += rule("return", "out", -979, "<ipv6" + attr("srcipaddr", ip) + " srcipmask='128'/>");
    out += rule("drop", "out", -978, "<ipv6/>");
    out += rule("drop", "out", -970, "<arp match='no'" + attr("arpsrcmacaddr", mac) + "/>");
    out += rule("return", "out", -969, "<arp arpsrcipaddr='0.0.0.0'/>");
    for (const auto& ip : ips)
        out += rule("return", "out", -969, "<arp" + attr("arpsrcipaddr", ip) + "/>");
    out += rule("drop", "out", -968, "<arp/>");
    return out;
}

std::string connection_rules() {
    std::string out = "  <!-- established connections; what connection tracking misses -->\n";
    for (const char* family : {"all", "all-ipv6"}) {
        for (const char* direction : {"in", "out"})
            out += rule("accept", direction, -950,
                        std::string("<") + family + " state='ESTABLISHED,RELATED'/>");
    }
    out += rule("accept", "in", -949, "<udp srcportstart='67' dstportstart='68'/>", false);
    out += rule("accept", "in", -949, "<udp-ipv6 srcportstart='547' dstportstart='546'/>", false);
    // Router and neighbour solicitations and advertisements.
    for (int type = 133; type <= 136; ++type)
        out += rule("accept", "in", -949, "<icmpv6" + attr("type", std::to_string(type)) + "/>",
                    false);
    return out;
}

std::string defaults() {
    std::string out = "  <!-- anything else: out goes, in stays out -->\n";
    out += rule("accept", "out", 990, "<all/>");
    out += rule("accept", "out", 990, "<all-ipv6/>");
    out += rule("drop", "in", 1000, "<all/>");
    out += rule("drop", "in", 1000, "<all-ipv6/>");
    return out;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

}  // namespace

std::string firewall_filter_name(const std::string& vm_uuid) { return "vpsfleet-fw-" + vm_uuid; }

driver::result<std::string> build_nwfilter_xml(const std::string& vm_uuid,
                                               const driver::firewall_spec& spec) {
    const std::string mac = lower(spec.mac);
    if (!valid_mac(mac))
        return make_error(errc::invalid_argument, "mac '" + spec.mac + "' is not a unicast MAC");
    auto v4 = own_addresses(spec.ipv4, 4);
    if (!v4) return v4.error();
    auto v6 = own_addresses(spec.ipv6, 6);
    if (!v6) return v6.error();
    const auto capacity =
        static_cast<std::size_t>(k_last_rule_priority - k_first_rule_priority + 1);
    if (spec.rules.size() > capacity)
        return make_error(errc::invalid_argument, "at most " + std::to_string(capacity) +
                                                      " firewall rules fit in one filter, got " +
                                                      std::to_string(spec.rules.size()));
    std::string customer;
    for (std::size_t i = 0; i < spec.rules.size(); ++i) {
        auto r = customer_rule(spec.rules[i], i);
        if (!r) return r.error();
        customer += *r;
    }
    std::string out = "<filter" + attr("name", firewall_filter_name(vm_uuid)) + " chain='root'>\n";
    out += "  <uuid>" + escape(vm_uuid) + "</uuid>\n";
    out += anti_spoofing(mac, *v4, *v6);
    out += connection_rules();
    out += "  <!-- the VM's rules, in order -->\n" + customer;
    out += defaults();
    out += "</filter>\n";
    return out;
}

std::optional<filterref_edit> set_filterref(const std::string& domain_xml, const std::string& mac,
                                            const std::string& filter) {
    xml::document doc(domain_xml);
    xmlNodePtr nic = nullptr;
    for (xmlNodePtr candidate : doc.select("/domain/devices/interface")) {
        if (lower(doc.value("mac/@address", candidate).value_or("")) == lower(mac)) {
            nic = candidate;
            break;
        }
    }
    if (!nic) return std::nullopt;
    filterref_edit out;
    xmlNodePtr ref = doc.first("filterref", nic);
    if (filter.empty()) {
        if (ref) {
            xml::document::remove(ref);
            out.changed = true;
        }
    } else {
        const bool same = ref && xml::document::attribute(ref, "filter") == filter &&
                          xmlFirstElementChild(ref) == nullptr;
        if (!same) {
            if (ref) xml::document::remove(ref);
            ref = xml::document::child(nic, "filterref");
            xml::document::set_attribute(ref, "filter", filter);
            out.changed = true;
        }
    }
    out.domain_xml = doc.str();
    out.interface_xml = doc.str(nic);
    return out;
}

}  // namespace vpsfleet::agent::libvirt
