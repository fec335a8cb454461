#pragma once
// cloud-init NoCloud seeds: the meta-data, user-data and network-config files for a VM, and the
// ISO 9660 image (volume id "cidata") that carries them, written with genisoimage.
#include "agent/driver/driver.hpp"

#include <string>

namespace vpsfleet::agent::driver {

struct seed_files {
    std::string meta_data;
    std::string user_data;
    std::string network_config;
};

// `nics` must carry their final MAC addresses: the network config matches interfaces by MAC.
seed_files render_seed(const std::string& instance_id, const cloud_init_spec& spec,
                       const std::vector<nic_spec>& nics);

// Writes the ISO to `path` (replacing it atomically). errc::failed with genisoimage's output on
// failure, errc::unsupported when genisoimage is not installed.
result<void> write_seed_iso(const seed_files& files, const std::string& path);

}  // namespace vpsfleet::agent::driver
