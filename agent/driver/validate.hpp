#pragma once
// Checks on specs that hold for every hypervisor, done before anything is created.
#include "agent/driver/driver.hpp"

#include <string>

namespace vpsfleet::agent::driver {

bool valid_uuid(const std::string& uuid);
bool valid_vm_name(const std::string& name);
// errc::invalid_argument naming the first field that cannot be used.
result<void> validate(const vm_spec& spec);

}  // namespace vpsfleet::agent::driver
