#pragma once
// Owning handles for libvirt objects and the mapping of libvirt's last error to a driver error.
#include "agent/driver/result.hpp"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <cstdlib>
#include <memory>
#include <string>

namespace vpsfleet::agent::libvirt {

struct domain_free {
    void operator()(virDomainPtr p) const { virDomainFree(p); }
};
struct pool_free {
    void operator()(virStoragePoolPtr p) const { virStoragePoolFree(p); }
};
struct volume_free {
    void operator()(virStorageVolPtr p) const { virStorageVolFree(p); }
};
struct snapshot_free {
    void operator()(virDomainSnapshotPtr p) const { virDomainSnapshotFree(p); }
};
struct c_free {
    void operator()(char* p) const { std::free(p); }
};

using domain_ptr = std::unique_ptr<virDomain, domain_free>;
using pool_ptr = std::unique_ptr<virStoragePool, pool_free>;
using volume_ptr = std::unique_ptr<virStorageVol, volume_free>;
using snapshot_ptr = std::unique_ptr<virDomainSnapshot, snapshot_free>;
using c_string = std::unique_ptr<char, c_free>;

// libvirt's last error on this thread as a driver error: "<what>: <libvirt's message>".
driver::error last_error(const std::string& what);
// The libvirt error code of the last error on this thread (VIR_ERR_OK when none).
int last_error_code();

// A string libvirt allocated, taken over; empty when null.
std::string take(char* s);

// The domain's UUID and name, for messages and results.
std::string uuid_of(virDomainPtr d);
std::string name_of(virDomainPtr d);

// The domain's state (VIR_DOMAIN_*); VIR_DOMAIN_NOSTATE when it cannot be read.
int state_of(virDomainPtr d);

}  // namespace vpsfleet::agent::libvirt
