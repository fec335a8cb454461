#pragma once
// A VM's firewall as libvirt network-filter XML (https://libvirt.org/formatnwfilter.html), and the
// <filterref> edit that points an interface of a domain at it. Pure functions: the driver defines
// what these return (libvirt_firewall.cpp).
//
// One filter per VM, in the root chain, ordered by rule priority:
//   -1000..-968  anti-spoofing on the ebtables layer, for frames the VM sends: its own MAC, IPv4
//                from its own addresses (or the one libvirt learns, $IP, when none is known) plus
//                the DHCP request, IPv6 from its own addresses plus link-local and "::", ARP
//                naming its own MAC and addresses;
//   -950, -949   packets of established and related connections pass both ways; DHCP answers
//                and IPv6 neighbour discovery come in (connection tracking does not follow them);
//   -900 + i     the VM's rule i (every address family and port combination it expands to shares
//                the one priority: they have the same action, so their order does not matter);
//   990, 1000    everything else may go out, nothing else comes in.
#include "agent/driver/driver.hpp"

#include <optional>
#include <string>

namespace vpsfleet::agent::libvirt {

// "vpsfleet-fw-<uuid>": the VM's filter.
std::string firewall_filter_name(const std::string& vm_uuid);

// The filter for the VM with this UUID (also the filter's own UUID); errc::invalid_argument
// naming the first thing in the spec that cannot be used.
driver::result<std::string> build_nwfilter_xml(const std::string& vm_uuid,
                                               const driver::firewall_spec& spec);

struct filterref_edit {
    std::string domain_xml;     // the whole domain, edited
    std::string interface_xml;  // the edited <interface> alone, for a live device update
    bool changed = false;       // false: the interface already was as asked
};

// Points the interface with `mac` at `filter` (no parameters), or drops its filterref when
// filter is empty. nullopt when the domain has no interface with that MAC.
std::optional<filterref_edit> set_filterref(const std::string& domain_xml, const std::string& mac,
                                            const std::string& filter);

}  // namespace vpsfleet::agent::libvirt
