#include "coordinator/ipam/allocation.hpp"

#include "coordinator/ipam/ipam_error.hpp"

#include <algorithm>

namespace vpsfleet::ipam {

namespace {

constexpr u128 k_enumerate_limit = 65'536;
constexpr int k_random_probes = 64;

// Uniform in [0, bound); bound 0 means the whole 128-bit space.
u128 uniform_below(std::mt19937_64& rng, u128 bound) {
    auto draw = [&rng] { return (u128(rng()) << 64) | u128(rng()); };
    if (bound == 0) return draw();
    // Rejecting the first 2^128 mod bound values leaves a multiple of bound: no modulo bias.
    const u128 threshold = (u128(0) - bound) % bound;
    for (;;) {
        const u128 r = draw();
        if (r >= threshold) return r % bound;
    }
}

std::vector<u128> sorted_unique(std::vector<u128> v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
}

bool in(const std::vector<u128>& sorted, u128 value) {
    return std::binary_search(sorted.begin(), sorted.end(), value);
}

[[noreturn]] void exhausted(const range_rules& rules) {
    throw ipam_error("range_exhausted", "no free address left in " + to_string(rules.cidr));
}

address pick_sequential(const range_rules& rules, const span& s, const std::vector<u128>& blocked) {
    u128 candidate = s.first;
    for (const u128 b : blocked) {
        if (b < candidate) continue;
        if (b > candidate) break;
        if (candidate == s.last) exhausted(rules);
        ++candidate;
    }
    return {rules.cidr.base.family, candidate};
}

address pick_random(const range_rules& rules, const span& s, const std::vector<u128>& blocked,
                    std::mt19937_64& rng) {
    const int family = rules.cidr.base.family;
    const u128 width = s.last - s.first;  // addresses - 1, so a full IPv6 space cannot overflow
    if (width < k_enumerate_limit) {
        std::vector<u128> free;
        auto it = std::lower_bound(blocked.begin(), blocked.end(), s.first);
        for (u128 a = s.first;; ++a) {
            while (it != blocked.end() && *it < a) ++it;
            if (it == blocked.end() || *it != a) free.push_back(a);
            if (a == s.last) break;
        }
        if (free.empty()) exhausted(rules);
        return {family, free[static_cast<std::size_t>(uniform_below(rng, free.size()))]};
    }
    for (int i = 0; i < k_random_probes; ++i) {
        const u128 candidate = s.first + uniform_below(rng, width + 1);
        if (!in(blocked, candidate)) return {family, candidate};
    }
    // Nearly full (or very unlucky): walk on from a random start. Among blocked.size() + 1
    // consecutive addresses at least one is free, if any is.
    u128 candidate = s.first + uniform_below(rng, width + 1);
    for (std::size_t step = 0; step <= blocked.size(); ++step) {
        if (!in(blocked, candidate)) return {family, candidate};
        candidate = candidate == s.last ? s.first : candidate + 1;
    }
    exhausted(rules);
}

address pick_slaac(const range_rules& rules, const pick_input& in_, const std::vector<u128>& live) {
    if (rules.cidr.base.family != 6 || rules.cidr.prefix != 64) {
        throw ipam_error("invalid_mode",
                         "slaac_eui64 needs an IPv6 /64 range, not " + to_string(rules.cidr));
    }
    if (!in_.mac) throw ipam_error("invalid_mac", "slaac_eui64 needs the instance's MAC address");
    const address a = eui64_address(rules.cidr, *in_.mac);
    require_usable(rules, a);
    if (in(live, a.value)) {
        throw ipam_error("ip_taken", to_string(a) + " (from the MAC) is already assigned");
    }
    return a;
}

}  // namespace

std::optional<allocation_mode> parse_allocation_mode(std::string_view s) {
    if (s == "sequential") return allocation_mode::sequential;
    if (s == "random") return allocation_mode::random;
    if (s == "slaac_eui64") return allocation_mode::slaac_eui64;
    return std::nullopt;
}

const char* to_string(allocation_mode m) {
    switch (m) {
        case allocation_mode::sequential:
            return "sequential";
        case allocation_mode::random:
            return "random";
        case allocation_mode::slaac_eui64:
            return "slaac_eui64";
    }
    return "sequential";
}

void check_rules(const range_rules& rules) {
    const auto& cidr = rules.cidr;
    const bool single = cidr.prefix == bits_of(cidr.base.family);
    if (rules.gateway.family != cidr.base.family) {
        throw ipam_error("invalid_address", "gateway " + to_string(rules.gateway) +
                                                " is not of the range's address family");
    }
    if (!single && !contains(cidr, rules.gateway)) {
        throw ipam_error("invalid_address",
                         "gateway " + to_string(rules.gateway) + " is outside " + to_string(cidr));
    }
    for (const auto& r : rules.reserved) {
        if (!contains(cidr, r)) {
            throw ipam_error("invalid_address",
                             "reserved address " + to_string(r) + " is outside " + to_string(cidr));
        }
    }
    if (rules.mode == allocation_mode::slaac_eui64 &&
        (cidr.base.family != 6 || cidr.prefix != 64)) {
        throw ipam_error("invalid_mode", "slaac_eui64 needs an IPv6 /64 range");
    }
}

span usable_span(const range_rules& rules) {
    const u128 first = first_of(rules.cidr);
    const u128 last = last_of(rules.cidr);
    const bool tiny = rules.cidr.prefix >= bits_of(rules.cidr.base.family) - 1;
    if (tiny || rules.use_full_range) return {first, last};
    return {first + 1, last - 1};
}

bool is_usable(const range_rules& rules, const address& a) {
    try {
        require_usable(rules, a);
        return true;
    } catch (const ipam_error&) {
        return false;
    }
}

void require_usable(const range_rules& rules, const address& a) {
    if (!contains(rules.cidr, a)) {
        throw ipam_error("ip_not_in_range",
                         to_string(a) + " is not inside the range " + to_string(rules.cidr));
    }
    const span s = usable_span(rules);
    if (a.value < s.first || a.value > s.last) {
        throw ipam_error("ip_not_usable", to_string(a) + " is the " +
                                              (a.value < s.first ? "network" : "broadcast") +
                                              " address of " + to_string(rules.cidr) +
                                              " (the range does not use its full range)");
    }
    if (a == rules.gateway) {
        throw ipam_error("ip_not_usable", to_string(a) + " is the range's gateway");
    }
    if (std::find(rules.reserved.begin(), rules.reserved.end(), a) != rules.reserved.end()) {
        throw ipam_error("ip_not_usable", to_string(a) + " is reserved in this range");
    }
}

address pick_address(const range_rules& rules, pick_input in_, std::mt19937_64& rng) {
    const auto live = sorted_unique(std::move(in_.live));
    if (rules.mode == allocation_mode::slaac_eui64) return pick_slaac(rules, in_, live);

    std::vector<u128> blocked = live;
    blocked.insert(blocked.end(), in_.cooling.begin(), in_.cooling.end());
    if (rules.gateway.family == rules.cidr.base.family) blocked.push_back(rules.gateway.value);
    for (const auto& r : rules.reserved) blocked.push_back(r.value);
    blocked = sorted_unique(std::move(blocked));

    const span s = usable_span(rules);
    return rules.mode == allocation_mode::random ? pick_random(rules, s, blocked, rng)
                                                 : pick_sequential(rules, s, blocked);
}

}  // namespace vpsfleet::ipam
