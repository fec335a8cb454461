// Looking inside a real guest the way an operator would by hand: qemu-guest-agent commands through
// `virsh qemu-agent-command` on qemu:///system. The guests come from scripts/guest-image, whose
// path scripts/test passes in VPSFLEET_GUEST_IMAGE.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <string>

namespace vpsfleet::testing {

// The command's "return" value, or null when the agent did not answer or refused.
nlohmann::json guest_agent_command(const std::string& domain, const nlohmann::json& command);

// Whether the guest's agent answers a ping within `wait` (the guest may still be booting).
bool guest_agent_answers(const std::string& domain, std::chrono::seconds wait);

// A file of the guest's, read through its agent; "<cannot open PATH>" when it cannot be opened.
std::string guest_file(const std::string& domain, const std::string& path);

}  // namespace vpsfleet::testing
