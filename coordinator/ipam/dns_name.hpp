#pragma once
// Forward and reverse DNS names of assigned addresses: fully qualified host names, checked before
// anything is stored or sent to a DNS provider.
#include <string>
#include <string_view>

namespace vpsfleet::ipam {

// A fully qualified name: at least two labels, each 1-63 characters of a-z, 0-9 and '-' and not
// starting or ending with '-', at most 253 characters, an optional trailing dot. Letters are
// folded to lower case. Returns the name lower-cased without the trailing dot; throws
// ipam_error("invalid_dns_name") saying what is wrong, naming `field`.
std::string normalize_dns_name(std::string_view name, std::string_view field);

}  // namespace vpsfleet::ipam
