#pragma once
// The driver a configuration asks for.
#include "agent/config.hpp"
#include "agent/driver/driver.hpp"

#include <memory>

namespace vpsfleet::agent::driver {

// Throws std::invalid_argument for a driver kind this build does not have.
std::unique_ptr<hypervisor> make_driver(const agent_config& cfg);

}  // namespace vpsfleet::agent::driver
