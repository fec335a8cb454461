#pragma once
// A libvirt driver on test:/// over tests/data/libvirt/host.xml, with its own seed directory, and
// small helpers to build specs and look at what the driver did through the same connection.
#include "agent/driver/libvirt/libvirt_driver.hpp"
#include "tests/support/temp_file.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace vpsfleet::testing {

inline std::string test_host_uri() {
    return std::string("test://") + VPSFLEET_SOURCE_DIR + "/tests/data/libvirt/host.xml";
}

inline constexpr const char* k_web1_uuid = "6f1d7a6e-0c1f-4a53-9d3b-2f0e8c1a5b01";
inline constexpr const char* k_vm_uuid = "0b7c2a9e-3d4f-4e5a-8b6c-7d8e9f0a1b2c";

struct libvirt_test_host {
    temp_dir seeds;
    std::unique_ptr<agent::libvirt::libvirt_driver> driver;

    libvirt_test_host() {
        agent::libvirt::libvirt_options options;
        options.uri = test_host_uri();
        options.seed_dir = seeds.path() + "/seeds";
        options.poll_interval = std::chrono::milliseconds(10);
        driver = std::make_unique<agent::libvirt::libvirt_driver>(options);
    }

    // A VM with a 10 GiB overlay of debian-12, one NIC with static addresses, and a seed.
    static agent::driver::vm_spec spec(const std::string& name = "vm1",
                                       const std::string& uuid = k_vm_uuid) {
        agent::driver::vm_spec s;
        s.name = name;
        s.uuid = uuid;
        s.vcpus = 2;
        s.max_vcpus = 4;
        s.memory_mib = 2048;
        s.max_memory_mib = 4096;
        agent::driver::disk_spec root;
        root.pool = "vms";
        root.size_bytes = 10ull << 30;
        root.image = agent::driver::image_ref{"images", "debian-12.qcow2"};
        s.disks.push_back(root);
        agent::driver::nic_spec nic;
        nic.network = "default";
        nic.mac = "52:54:00:12:34:56";
        nic.ipv4 = {{"203.0.113.10/24", "203.0.113.1"}};
        nic.ipv6 = {{"2001:db8::10/64", "2001:db8::1"}};
        nic.nameservers = {"9.9.9.9"};
        s.nics.push_back(nic);
        agent::driver::cloud_init_spec ci;
        ci.hostname = name + ".example.net";
        agent::driver::user_spec user;
        user.name = "alice";
        user.ssh_keys = {"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOld alice@laptop"};
        user.password_hash = "$6$salt$hash";
        ci.users.push_back(user);
        s.cloud_init = ci;
        return s;
    }

    // The domain's XML as libvirt holds it (inactive: the persistent definition).
    std::string xml(const std::string& name, bool inactive = true) {
        virDomainPtr d = virDomainLookupByName(driver->native(), name.c_str());
        if (!d) return {};
        char* x = virDomainGetXMLDesc(d, inactive ? VIR_DOMAIN_XML_INACTIVE : 0);
        virDomainFree(d);
        std::string out = x ? x : "";
        std::free(x);
        return out;
    }

    bool volume_exists(const std::string& pool, const std::string& volume) {
        virStoragePoolPtr p = virStoragePoolLookupByName(driver->native(), pool.c_str());
        if (!p) return false;
        virStorageVolPtr v = virStorageVolLookupByName(p, volume.c_str());
        virStoragePoolFree(p);
        if (!v) return false;
        virStorageVolFree(v);
        return true;
    }

    std::string volume_xml(const std::string& pool, const std::string& volume) {
        virStoragePoolPtr p = virStoragePoolLookupByName(driver->native(), pool.c_str());
        if (!p) return {};
        virStorageVolPtr v = virStorageVolLookupByName(p, volume.c_str());
        virStoragePoolFree(p);
        if (!v) return {};
        char* x = virStorageVolGetXMLDesc(v, 0);
        virStorageVolFree(v);
        std::string out = x ? x : "";
        std::free(x);
        return out;
    }
};

inline bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace vpsfleet::testing
