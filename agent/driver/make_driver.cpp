#include "agent/driver/make_driver.hpp"

#include "agent/driver/libvirt/libvirt_driver.hpp"
#include "agent/driver/proxmox/proxmox_driver.hpp"

#include <stdexcept>

namespace vpsfleet::agent::driver {

std::unique_ptr<hypervisor> make_driver(const agent_config& cfg) {
    if (cfg.driver == "proxmox") {
        proxmox::proxmox_options options;
        options.url = cfg.proxmox.url;
        options.node = cfg.proxmox.node;
        options.token_id = cfg.proxmox.token_id;
        options.token_secret = cfg.proxmox.token_secret;
        options.user = cfg.proxmox.user;
        options.password = cfg.proxmox.password;
        options.ca_pem = cfg.proxmox.ca_pem;
        return std::make_unique<proxmox::proxmox_driver>(std::move(options));
    }
    if (cfg.driver != "libvirt")
        throw std::invalid_argument("hypervisor driver '" + cfg.driver + "' is not built in");
    libvirt::libvirt_options options;
    options.uri = cfg.libvirt_uri;
    options.seed_dir = cfg.state_dir + "/seeds";
    options.cpu_mode = cfg.cpu_mode;
    options.cpu_disable = cfg.cpu_disable;
    return std::make_unique<libvirt::libvirt_driver>(std::move(options));
}

}  // namespace vpsfleet::agent::driver
