#include "coordinator/ipam/address.hpp"

#include <arpa/inet.h>

#include <charconv>

namespace vpsfleet::ipam {

namespace {

u128 mask_of(int family, int prefix) {
    const int host_bits = bits_of(family) - prefix;
    const u128 all = family == 4 ? u128(0xffffffffu) : ~u128(0);
    if (host_bits >= 128) return 0;
    return all & ~((u128(1) << host_bits) - 1);
}

}  // namespace

int bits_of(int family) { return family == 4 ? 32 : 128; }

std::optional<address> parse_address(std::string_view text) {
    if (text.empty() || text.size() > 45) return std::nullopt;
    const std::string s(text);
    if (s.find(':') == std::string::npos) {
        in_addr v4{};
        if (inet_pton(AF_INET, s.c_str(), &v4) != 1) return std::nullopt;
        return address{4, u128(ntohl(v4.s_addr))};
    }
    in6_addr v6{};
    if (inet_pton(AF_INET6, s.c_str(), &v6) != 1) return std::nullopt;
    u128 value = 0;
    for (const auto byte : v6.s6_addr) value = (value << 8) | byte;
    return address{6, value};
}

std::string to_string(const address& a) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (a.family == 4) {
        in_addr v4{};
        v4.s_addr = htonl(static_cast<std::uint32_t>(a.value));
        inet_ntop(AF_INET, &v4, buf, sizeof buf);
    } else {
        in6_addr v6{};
        u128 value = a.value;
        for (int i = 15; i >= 0; --i) {
            v6.s6_addr[i] = static_cast<std::uint8_t>(value & 0xff);
            value >>= 8;
        }
        inet_ntop(AF_INET6, &v6, buf, sizeof buf);
    }
    return buf;
}

std::optional<network> parse_cidr(std::string_view text) {
    const auto slash = text.find('/');
    if (slash == std::string_view::npos) return std::nullopt;
    const auto base = parse_address(text.substr(0, slash));
    if (!base) return std::nullopt;
    const auto digits = text.substr(slash + 1);
    int prefix = -1;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || digits.size() > 3 || ec != std::errc{} ||
        end != digits.data() + digits.size() || prefix < 0 || prefix > bits_of(base->family)) {
        return std::nullopt;
    }
    if ((base->value & ~mask_of(base->family, prefix)) != 0) return std::nullopt;
    return network{*base, prefix};
}

std::string to_string(const network& n) {
    return to_string(n.base) + "/" + std::to_string(n.prefix);
}

u128 first_of(const network& n) { return n.base.value; }

u128 last_of(const network& n) {
    const u128 all = n.base.family == 4 ? u128(0xffffffffu) : ~u128(0);
    return n.base.value | (all & ~mask_of(n.base.family, n.prefix));
}

bool contains(const network& n, const address& a) {
    return a.family == n.base.family && a.value >= first_of(n) && a.value <= last_of(n);
}

bool overlaps(const network& a, const network& b) {
    return a.base.family == b.base.family && first_of(a) <= last_of(b) && first_of(b) <= last_of(a);
}

std::optional<mac_address> parse_mac(std::string_view text) {
    if (text.size() != 17) return std::nullopt;
    mac_address mac{};
    for (std::size_t i = 0; i < 6; ++i) {
        const auto part = text.substr(i * 3, 2);
        if (i < 5 && text[i * 3 + 2] != ':' && text[i * 3 + 2] != '-') return std::nullopt;
        unsigned value = 0;
        const auto [end, ec] = std::from_chars(part.data(), part.data() + 2, value, 16);
        if (ec != std::errc{} || end != part.data() + 2) return std::nullopt;
        mac[i] = static_cast<std::uint8_t>(value);
    }
    return mac;
}

address eui64_address(const network& prefix64, const mac_address& mac) {
    const std::array<std::uint8_t, 8> iid = {static_cast<std::uint8_t>(mac[0] ^ 0x02),
                                             mac[1],
                                             mac[2],
                                             0xff,
                                             0xfe,
                                             mac[3],
                                             mac[4],
                                             mac[5]};
    u128 low = 0;
    for (const auto byte : iid) low = (low << 8) | byte;
    return address{6, prefix64.base.value | low};
}

}  // namespace vpsfleet::ipam
