#pragma once
// An owned libvirt connection and the host facts read through it. Calls block: run them on the
// agent's hypervisor thread, never on an I/O thread. Errors carry libvirt's own message.
#include <libvirt/libvirt.h>

#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace vpsfleet::agent::libvirt {

struct libvirt_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct host_facts {
    std::string hostname;
    std::string cpu_model;
    unsigned cpus = 0;
    unsigned cpu_mhz = 0;
    std::uint64_t memory_bytes = 0;
    std::map<std::string, unsigned> domains_by_state;  // "running", "shutoff", ...
};

struct domain_info {
    std::string uuid;
    std::string name;
    std::string state;
    std::string config_hash;  // SHA-256 of the persistent XML: changes when the definition does
};

class connection {
  public:
    // Opens the URI; throws libvirt_error with libvirt's message.
    explicit connection(const std::string& uri);
    bool alive() const;
    host_facts facts() const;
    std::vector<domain_info> domains() const;
    // Power actions on a domain named by UUID or name; libvirt's message on failure.
    void start(const std::string& domain);
    void destroy(const std::string& domain);
    virConnectPtr get() const { return conn_.get(); }

  private:
    struct closer {
        void operator()(virConnectPtr c) const { virConnectClose(c); }
    };
    std::unique_ptr<virConnect, closer> conn_;
};

std::string domain_state_name(int state);

}  // namespace vpsfleet::agent::libvirt
