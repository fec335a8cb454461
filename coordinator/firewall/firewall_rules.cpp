#include "coordinator/firewall/firewall_rules.hpp"
#include "common/ascii_case.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <vector>

namespace vpsfleet::firewall {

using json = nlohmann::json;

namespace {

struct address {
    int family = 4;
    std::string text;  // canonical, with "/len" when a prefix was given
};

std::optional<address> parse_address(const std::string& input) {
    const auto slash = input.find('/');
    const std::string host = input.substr(0, slash);
    std::array<unsigned char, 16> raw{};
    char buf[INET6_ADDRSTRLEN] = {};
    address out;
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
        if (len.empty() || ec != std::errc{} || end != len.data() + len.size() || value < 0 ||
            value > (out.family == 4 ? 32 : 128))
            return std::nullopt;
        out.text += "/" + std::to_string(value);
    }
    return out;
}

struct port_range {
    int from = 0;
    int to = 0;
};

std::optional<int> parse_port(const std::string& text) {
    int value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || value < 1 ||
        value > 65535)
        return std::nullopt;
    return value;
}

// Proxmox's port syntax: a comma-separated list of ports and from:to ranges.
std::vector<port_range> parse_ports(const std::string& field, const std::string& spec) {
    const std::string message = field +
                                " must be ports (1-65535) or from:to ranges separated by commas, "
                                "e.g. 22 or 80,443 or 8000:8080";
    std::vector<port_range> out;
    std::size_t start = 0;
    while (start <= spec.size()) {
        const auto comma = spec.find(',', start);
        const std::string item = spec.substr(start, comma - start);
        const auto colon = item.find(':');
        const auto from = parse_port(item.substr(0, colon));
        const auto to = colon == std::string::npos ? from : parse_port(item.substr(colon + 1));
        if (!from || !to) throw invalid_rule(field, message);
        if (*to < *from)
            throw invalid_rule(field, field + ": the range " + item + " ends before it starts");
        out.push_back({*from, *to});
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    if (out.size() > k_max_port_items)
        throw invalid_rule(field, field + " lists at most " + std::to_string(k_max_port_items) +
                                      " ports or ranges");
    return out;
}

std::string canonical_ports(const std::vector<port_range>& ports) {
    std::string out;
    for (const auto& p : ports) {
        if (!out.empty()) out += ",";
        out += std::to_string(p.from);
        if (p.to != p.from) out += ":" + std::to_string(p.to);
    }
    return out;
}

// The field as a string, when present and not null; anything else there is a 400.
std::optional<std::string> string_field(const json& body, const char* field) {
    const auto it = body.find(field);
    if (it == body.end()) return std::nullopt;
    if (!it->is_string()) throw invalid_rule(field, std::string(field) + " must be a string");
    return it->get<std::string>();
}

std::string direction_of(const std::string& value) {
    const auto d = ascii_lower(value);
    if (d != "in" && d != "out") throw invalid_rule("direction", "direction must be in or out");
    return d;
}

std::string action_of(const std::string& value) {
    const auto a = ascii_upper(value);
    if (a != "ACCEPT" && a != "DROP" && a != "REJECT")
        throw invalid_rule("action", "action must be ACCEPT, DROP or REJECT");
    return a;
}

std::optional<std::string> proto_of(const std::string& value) {
    if (value.empty()) return std::nullopt;
    auto p = ascii_lower(value);
    if (p == "ipv6-icmp") p = "icmpv6";
    static const std::vector<std::string> known = {"tcp",  "udp",    "sctp", "udplite",
                                                   "icmp", "icmpv6", "esp",  "ah"};
    if (std::find(known.begin(), known.end(), p) == known.end())
        throw invalid_rule("proto",
                           "proto must be one of tcp, udp, sctp, udplite, icmp, icmpv6, esp, ah "
                           "(or left out for any protocol)");
    return p;
}

std::optional<std::string> address_of(const char* field, const std::string& value) {
    if (value.empty()) return std::nullopt;
    const auto a = parse_address(value);
    if (!a)
        throw invalid_rule(field, std::string(field) +
                                      " must be an IPv4 or IPv6 address or CIDR, e.g. "
                                      "203.0.113.0/24 (aliases are not supported)");
    return a->text;
}

std::optional<std::string> ports_of(const char* field, const std::string& value) {
    if (value.empty()) return std::nullopt;
    return canonical_ports(parse_ports(field, value));
}

std::optional<std::string> comment_of(const std::string& value) {
    if (value.empty()) return std::nullopt;
    if (value.size() > k_max_comment)
        throw invalid_rule("comment",
                           "comment is at most " + std::to_string(k_max_comment) + " characters");
    return value;
}

// What holds between fields: ports need a protocol with ports, and addresses and ICMP flavours
// agree on the address family.
void check_whole(const rule& r) {
    const bool with_ports = r.proto == "tcp" || r.proto == "udp" || r.proto == "sctp";
    if ((r.sport || r.dport) && !with_ports)
        throw invalid_rule(r.sport ? "sport" : "dport", std::string(r.sport ? "sport" : "dport") +
                                                            " needs proto tcp, udp or sctp");
    std::optional<int> family;
    if (r.source) family = parse_address(*r.source)->family;
    if (r.dest) {
        const int f = parse_address(*r.dest)->family;
        if (family && *family != f)
            throw invalid_rule("dest", "source and dest must be of the same address family");
        family = f;
    }
    if (r.proto == "icmp" && family == 6)
        throw invalid_rule("proto", "icmp is IPv4; use icmpv6 with IPv6 addresses");
    if (r.proto == "icmpv6" && family == 4)
        throw invalid_rule("proto", "icmpv6 is IPv6; use icmp with IPv4 addresses");
}

json ports_json(const std::optional<std::string>& spec, const char* field) {
    json out = json::array();
    if (!spec) return out;
    for (const auto& p : parse_ports(field, *spec)) out.push_back({{"from", p.from}, {"to", p.to}});
    return out;
}

}  // namespace

rule parse_new_rule(const json& body) {
    rule r;
    const auto direction = string_field(body, "direction");
    if (!direction || direction->empty())
        throw invalid_rule("direction", "direction is required (in or out)");
    r.direction = direction_of(*direction);
    const auto action = string_field(body, "action");
    if (!action || action->empty())
        throw invalid_rule("action", "action is required (ACCEPT, DROP or REJECT)");
    r.action = action_of(*action);
    r.proto = proto_of(string_field(body, "proto").value_or(""));
    r.source = address_of("source", string_field(body, "source").value_or(""));
    r.dest = address_of("dest", string_field(body, "dest").value_or(""));
    r.sport = ports_of("sport", string_field(body, "sport").value_or(""));
    r.dport = ports_of("dport", string_field(body, "dport").value_or(""));
    r.comment = comment_of(string_field(body, "comment").value_or(""));
    if (const auto it = body.find("enabled"); it != body.end()) {
        if (!it->is_boolean()) throw invalid_rule("enabled", "enabled must be true or false");
        r.enabled = it->get<bool>();
    }
    check_whole(r);
    return r;
}

rule apply_patch(const rule& current, const json& body) {
    rule r = current;
    if (const auto v = string_field(body, "direction")) r.direction = direction_of(*v);
    if (const auto v = string_field(body, "action")) r.action = action_of(*v);
    if (const auto v = string_field(body, "proto")) r.proto = proto_of(*v);
    if (const auto v = string_field(body, "source")) r.source = address_of("source", *v);
    if (const auto v = string_field(body, "dest")) r.dest = address_of("dest", *v);
    if (const auto v = string_field(body, "sport")) r.sport = ports_of("sport", *v);
    if (const auto v = string_field(body, "dport")) r.dport = ports_of("dport", *v);
    if (const auto v = string_field(body, "comment")) r.comment = comment_of(*v);
    if (const auto it = body.find("enabled"); it != body.end()) {
        if (!it->is_boolean()) throw invalid_rule("enabled", "enabled must be true or false");
        r.enabled = it->get<bool>();
    }
    check_whole(r);
    return r;
}

std::optional<std::int64_t> requested_position(const json& body) {
    const auto it = body.find("position");
    if (it == body.end()) return std::nullopt;
    if (!it->is_number_integer() || it->get<std::int64_t>() < 1)
        throw invalid_rule("position", "position must be a positive integer");
    return it->get<std::int64_t>();
}

json to_api_json(const rule& r) {
    json out = {
        {"uid", r.uid}, {"position", r.position}, {"direction", r.direction}, {"action", r.action}};
    auto add = [&](const char* name, const std::optional<std::string>& v) {
        if (v) out[name] = *v;
    };
    add("proto", r.proto);
    add("source", r.source);
    add("dest", r.dest);
    add("sport", r.sport);
    add("dport", r.dport);
    add("comment", r.comment);
    out["enabled"] = r.enabled;
    return out;
}

json to_command_json(const rule& r) {
    json out = {{"direction", r.direction},
                {"action", ascii_lower(r.action)},
                {"source_ports", ports_json(r.sport, "sport")},
                {"destination_ports", ports_json(r.dport, "dport")},
                {"comment", r.uid}};
    if (r.proto) out["protocol"] = *r.proto;
    if (r.source) out["source"] = *r.source;
    if (r.dest) out["destination"] = *r.dest;
    return out;
}

}  // namespace vpsfleet::firewall
