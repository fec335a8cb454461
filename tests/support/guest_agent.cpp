#include "tests/support/guest_agent.hpp"

#include "tests/support/child_process.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <thread>

namespace vpsfleet::testing {

nlohmann::json guest_agent_command(const std::string& domain, const nlohmann::json& command) {
    const auto r = run_command(
        {"virsh", "-c", "qemu:///system", "qemu-agent-command", domain, command.dump()});
    if (r.status != 0) return nullptr;
    const auto answer = nlohmann::json::parse(r.output, nullptr, false);
    return answer.is_object() ? answer.value("return", nlohmann::json()) : nullptr;
}

bool guest_agent_answers(const std::string& domain, std::chrono::seconds wait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (guest_agent_command(domain, {{"execute", "guest-ping"}}).is_null()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    return true;
}

std::string guest_file(const std::string& domain, const std::string& path) {
    const auto handle = guest_agent_command(
        domain, {{"execute", "guest-file-open"}, {"arguments", {{"path", path}}}});
    if (!handle.is_number()) return "<cannot open " + path + ">";
    const auto read = guest_agent_command(
        domain,
        {{"execute", "guest-file-read"}, {"arguments", {{"handle", handle}, {"count", 65536}}}});
    guest_agent_command(domain,
                        {{"execute", "guest-file-close"}, {"arguments", {{"handle", handle}}}});
    const std::string b64 = read.is_object() ? read.value("buf-b64", "") : "";
    if (b64.size() < 4) return "";
    std::string out(b64.size(), '\0');
    const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(b64.data()),
                                  static_cast<int>(b64.size()));
    const auto padding = std::count(b64.end() - 2, b64.end(), '=');
    out.resize(n < padding ? 0 : static_cast<std::size_t>(n - padding));
    return out;
}

}  // namespace vpsfleet::testing
