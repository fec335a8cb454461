#pragma once
// The fleet command kinds that act on VMs (vm.define, vm.start, ..., vm.guest.set_ssh_keys) and
// domain.start / domain.stop: their arguments read from the command's JSON, and the driver call
// each one makes, returning the JSON result.
#include "agent/driver/driver.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace vpsfleet::agent::link {

// Thrown for arguments that cannot be used; the message names the field ("args.disks[0].pool ...").
struct args_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

using vm_job = std::function<driver::result<nlohmann::json>(driver::hypervisor&)>;

// The job for a command kind; nullopt for a kind this agent does not run. Throws args_error.
std::optional<vm_job> make_vm_job(const std::string& kind, const nlohmann::json& args);

// Every kind make_vm_job knows, for error messages and the capabilities in hello.
const std::vector<std::string>& vm_command_kinds();

// The spec of vm.define from its JSON (exposed for tests). Throws args_error.
driver::vm_spec parse_vm_spec(const nlohmann::json& args);

}  // namespace vpsfleet::agent::link
