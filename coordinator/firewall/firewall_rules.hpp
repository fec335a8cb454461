#pragma once
// An instance's firewall rules in the customer API's terms (Suble: direction, action, proto,
// source, dest, sport, dport, comment, enabled, position; Proxmox field syntax): reading them from
// request bodies with every check the host would make, their API view, and the shape the agent's
// vm.firewall command takes. No database and no HTTP here, so routes and jobs share it.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

namespace vpsfleet::firewall {

inline constexpr std::size_t k_max_rules = 100;      // per instance
inline constexpr std::size_t k_max_comment = 255;    // characters
inline constexpr std::size_t k_max_port_items = 10;  // in one sport or dport list

// A body field that cannot be used; the API answers 400 naming `field`.
struct invalid_rule : std::runtime_error {
    invalid_rule(std::string field, const std::string& message)
        : std::runtime_error(message), field(std::move(field)) {}
    std::string field;
};

struct rule {
    std::string uid;
    int position = 0;
    std::string direction;              // in | out
    std::string action;                 // ACCEPT | DROP | REJECT
    std::optional<std::string> proto;   // tcp, udp, sctp, udplite, icmp, icmpv6, esp, ah
    std::optional<std::string> source;  // address or CIDR, canonical
    std::optional<std::string> dest;
    std::optional<std::string> sport;  // "22", "80,443", "1000:2000", canonical
    std::optional<std::string> dport;
    std::optional<std::string> comment;
    bool enabled = true;
    bool operator==(const rule&) const = default;
};

// POST: direction and action required, the rest optional ("" is the same as absent), enabled
// true unless given. Throws invalid_rule.
rule parse_new_rule(const nlohmann::json& body);

// PATCH: the rule with the body's fields applied ("" clears an optional field) and checked as a
// whole; position is not touched (see requested_position). Throws invalid_rule.
rule apply_patch(const rule& current, const nlohmann::json& body);
// PATCH's position, when given: a positive integer. Throws invalid_rule.
std::optional<std::int64_t> requested_position(const nlohmann::json& body);

// The customer API view; absent fields are left out, as the document's examples show.
nlohmann::json to_api_json(const rule& r);

// One rule as the agent's vm.firewall command takes it (its comment is the rule's uid).
nlohmann::json to_command_json(const rule& r);

}  // namespace vpsfleet::firewall
