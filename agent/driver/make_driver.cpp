#include "agent/driver/make_driver.hpp"

#include "agent/driver/libvirt/libvirt_driver.hpp"

#include <stdexcept>

namespace vpsfleet::agent::driver {

std::unique_ptr<hypervisor> make_driver(const agent_config& cfg) {
    if (cfg.driver != "libvirt")
        throw std::invalid_argument("hypervisor driver '" + cfg.driver + "' is not built in");
    libvirt::libvirt_options options;
    options.uri = cfg.libvirt_uri;
    options.seed_dir = cfg.state_dir + "/seeds";
    return std::make_unique<libvirt::libvirt_driver>(std::move(options));
}

}  // namespace vpsfleet::agent::driver
