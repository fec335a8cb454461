#pragma once
// Clients for the routers named by "static_arp" access policies. When an address from such a
// policy's range is assigned to a VM, the coordinator adds a static ARP entry (the address -> the
// VM's MAC on the policy's interface) on the router, and removes it when the address is unassigned.
//
// Kinds (LNVPS RouterKind):
// - "mikrotik": RouterOS v7's REST API on `/rest/ip/arp`. `url` is the router's base URL,
//   `https://HOST[:PORT]` (a trailing `/` or `/rest` is accepted); `http://` only where the router
//   serves plain `www` on a trusted network. `token` is `user:password` of the RouterOS user (which
//   needs the rest-api, read and write policies), sent as HTTP Basic auth; the password may be
//   empty or contain `:`. The certificate is always verified, against `options.ca_pem` when given
//   (a router's self-signed CA) or else the system's trust store.
// - "ovh_additional_ip": accepted as configuration; every call throws `not_supported`.
//
// Calls block (run them on a job worker thread, never an I/O thread), each for at most
// `options.timeout`.
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace vpsfleet::ipam {

// As stored for an LNVPS router.
struct router_config {
    std::string kind;  // mikrotik | ovh_additional_ip
    std::string url;
    std::string token;
};

// How the coordinator talks to routers.
struct router_options {
    std::string ca_pem;  // PEM trust anchors replacing the system store; empty: the system store
    std::chrono::milliseconds timeout{10'000};
};

struct arp_entry {
    std::string ip;
    std::string mac;
    std::string interface;
    std::string comment;
};

// Codes: invalid_config, unreachable, timeout, tls_failed, transport_failed (the connection broke
// mid-request), unauthorized (HTTP 401), forbidden (403), not_found (404), rejected (any other 4xx:
// the router's detail is the message), router_failed (5xx), bad_response, invalid_reference (not
// a RouterOS id), not_supported.
// Worth retrying: unreachable, timeout, transport_failed, router_failed.
struct router_error : std::runtime_error {
    router_error(std::string code, const std::string& message);
    std::string code;
};

class router_client {
  public:
    virtual ~router_client() = default;

    // Returns the router's reference for the entry (RouterOS: its ".id", e.g. "*1A").
    virtual std::string add_arp(const arp_entry& entry) = 0;
    // An entry that is already gone counts as removed.
    virtual void remove_arp(const std::string& arp_ref) = 0;
    // Every entry the router has (static and dynamic), with its reference.
    virtual std::vector<std::pair<std::string, arp_entry>> list_arp() = 0;
};

// Throws router_error{"invalid_config"} for an unknown kind, or a URL or token of the wrong form.
std::unique_ptr<router_client> make_router_client(const router_config& config,
                                                  const router_options& options = {});

}  // namespace vpsfleet::ipam
