#pragma once
// IPv4 and IPv6 addresses as 128-bit integers (IPv4 in the low 32 bits), so ranges of either
// family share one arithmetic: parsing with inet_pton, canonical text with inet_ntop (RFC 5952
// for IPv6), CIDR networks, and the EUI-64 interface identifier of RFC 4291 appendix A.
#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vpsfleet::ipam {

using u128 = unsigned __int128;

struct address {
    int family = 4;  // 4 or 6
    u128 value = 0;

    friend auto operator<=>(const address&, const address&) = default;
};

// Address width in bits: 32 or 128.
int bits_of(int family);

// A bare address ("192.0.2.7", "2001:db8::7"); nullopt for anything else (a prefix included).
std::optional<address> parse_address(std::string_view text);
std::string to_string(const address& a);

struct network {
    address base;  // host bits zero
    int prefix = 0;

    friend bool operator==(const network&, const network&) = default;
};

// "192.0.2.0/24", "2001:db8::/64". Host bits set after the prefix ("192.0.2.1/24") are refused,
// so a range is never stored as something other than what the operator meant.
std::optional<network> parse_cidr(std::string_view text);
std::string to_string(const network& n);

// The lowest and highest address of the network.
u128 first_of(const network& n);
u128 last_of(const network& n);
bool contains(const network& n, const address& a);
// Whether the two networks share any address.
bool overlaps(const network& a, const network& b);

using mac_address = std::array<std::uint8_t, 6>;
// "52:54:00:12:34:56" (or with '-'), either case.
std::optional<mac_address> parse_mac(std::string_view text);

// The address of a SLAAC host on a /64: the prefix, then the MAC as a modified EUI-64 interface
// identifier (the universal/local bit flipped, ff:fe in the middle).
address eui64_address(const network& prefix64, const mac_address& mac);

}  // namespace vpsfleet::ipam
