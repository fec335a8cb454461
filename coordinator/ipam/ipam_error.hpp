#pragma once
// The one error IP address management throws for expected failures: a stable code (the API and
// job error code) and a message a person can act on. Codes:
//   invalid_address, invalid_cidr, invalid_mac, invalid_mode, invalid_dns_name  bad input
//   ip_not_in_range, ip_not_usable                                             bad requested IP
//   ip_taken, range_exhausted, no_ip_available                                 no free address
//   range_not_found, range_disabled, no_ip_range                               no range to use
#include <stdexcept>
#include <string>

namespace vpsfleet::ipam {

struct ipam_error : std::runtime_error {
    ipam_error(std::string code, const std::string& message)
        : std::runtime_error(message), code(std::move(code)) {}
    std::string code;
};

}  // namespace vpsfleet::ipam
