#pragma once
// The libvirt domain XML vpsfleet writes for a VM spec, and what it reads back from a domain's XML
// (disks, NICs, console, the addresses it recorded in its <metadata>).
#include "agent/driver/driver.hpp"

#include <optional>
#include <string>
#include <vector>

namespace vpsfleet::agent::libvirt {

// A disk's volume, once created in its pool.
struct disk_volume {
    std::string pool;
    std::string volume;
    std::string format = "qcow2";
};

struct domain_xml_input {
    const driver::vm_spec* spec = nullptr;  // nics must carry their final MACs
    std::string domain_type = "kvm";        // kvm | qemu | test
    std::string cpu_mode = "host-model";    // under kvm: host-model, host-passthrough, default
    std::vector<std::string> cpu_disable;   // CPU features turned off
    std::vector<disk_volume> disks;         // one per spec->disks, in order
    std::optional<std::string> seed_iso;    // cloud-init seed, attached as a CD-ROM
    std::string vnc_password;               // until the first console ticket replaces it
};

std::string build_domain_xml(const domain_xml_input& in);

// "vda", "vdb", ... for disk i.
std::string disk_target(std::size_t index);

// A random locally administered MAC in QEMU's 52:54:00 range.
std::string random_mac();
bool valid_mac(const std::string& mac);

struct disk_layout {
    std::string target;  // vda
    std::string device;  // disk | cdrom
    std::optional<disk_volume> volume;
    std::optional<std::string> file;
};

struct nic_layout {
    std::string mac;
    std::string target;  // host-side device (vnet0), while running
};

struct domain_layout {
    std::vector<disk_layout> disks;
    std::vector<nic_layout> nics;
    bool guest_agent_channel = false;
    bool vnc = false;
    int vnc_port = -1;
    std::string vnc_listen;
    // From vpsfleet's metadata: the NICs' addresses and the hostname given at define.
    std::vector<driver::nic_spec> recorded_nics;
    std::string recorded_hostname;
};

domain_layout parse_domain_xml(const std::string& xml);

}  // namespace vpsfleet::agent::libvirt
