#include "agent/config.hpp"

#include <fstream>
#include <sstream>

namespace vpsfleet::agent {

using namespace std::chrono_literals;

namespace {

void load_proxmox(config::section section, proxmox_config& out) {
    out.url = section.get_string("url", out.url);
    if (!out.url.starts_with("https://") || out.url.size() <= 8) {
        section.fail("url", "expected https://HOST[:PORT], got '" + out.url + "'");
    }
    out.node = section.get_string("node", "");
    if (out.node.empty()) section.fail("node", "is required: the Proxmox VE node's name");
    out.token_id = section.get_string("token_id", "");
    out.token_secret = section.get_string("token_secret", "");
    out.user = section.get_string("user", "");
    out.password = section.get_string("password", "");
    const bool token = !out.token_id.empty() || !out.token_secret.empty();
    const bool ticket = !out.user.empty() || !out.password.empty();
    if (token && ticket) {
        section.fail("token_id", "give either token_id and token_secret, or user and password");
    }
    if (!token && !ticket) {
        section.fail("token_id", "is required (with token_secret), or user and password");
    }
    if (token && (out.token_id.find('@') == std::string::npos ||
                  out.token_id.find('!') == std::string::npos)) {
        section.fail("token_id", "expected user@realm!tokenid, got '" + out.token_id + "'");
    }
    if (token && out.token_secret.empty()) section.fail("token_secret", "is required");
    if (ticket && out.user.find('@') == std::string::npos) {
        section.fail("user", "expected user@realm, got '" + out.user + "'");
    }
    if (ticket && out.password.empty()) section.fail("password", "is required");
    out.ca_file = section.get_string("ca_file", "");
    if (!out.ca_file.empty()) {
        std::ifstream in(out.ca_file);
        std::stringstream text;
        text << in.rdbuf();
        out.ca_pem = text.str();
        if (!in || out.ca_pem.find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
            section.fail("ca_file", "cannot read a PEM certificate from '" + out.ca_file + "'");
        }
    }
    section.finish();
}

}  // namespace

agent_config load_config(const std::string& path) {
    agent_config cfg;
    config::section root = config::load_file(path);

    config::section log_section = root.child("log");
    cfg.log_level = *log::parse_level(
        log_section.get_choice("level", "info", {"debug", "info", "warn", "error"}));
    log_section.finish();

    config::section host = root.child("host");
    cfg.host_name = host.get_optional_string("name");
    if (cfg.host_name && cfg.host_name->empty()) host.fail("name", "must not be empty");
    host.finish();

    config::section hypervisor = root.child("hypervisor");
    cfg.driver = hypervisor.get_choice("driver", cfg.driver, {"libvirt", "proxmox"});
    cfg.libvirt_uri = hypervisor.get_string("libvirt_uri", cfg.libvirt_uri);
    cfg.cpu_mode = hypervisor.get_choice("cpu_mode", cfg.cpu_mode,
                                         {"host-model", "host-passthrough", "default"});
    cfg.cpu_disable = hypervisor.get_string_list("cpu_disable", cfg.cpu_disable);
    for (const auto& feature : cfg.cpu_disable) {
        if (feature.empty() || feature.find_first_not_of(
                                   "abcdefghijklmnopqrstuvwxyz0123456789-_.") != std::string::npos)
            hypervisor.fail("cpu_disable", "'" + feature + "' is not a CPU feature name");
    }
    if (cfg.libvirt_uri.find("://") == std::string::npos) {
        hypervisor.fail("libvirt_uri", "expected a libvirt URI such as qemu:///system, got '" +
                                           cfg.libvirt_uri + "'");
    }
    if (cfg.driver == "proxmox") load_proxmox(hypervisor.child("proxmox"), cfg.proxmox);
    hypervisor.finish();

    config::section metrics = root.child("metrics");
    cfg.metrics_listen = metrics.get_endpoint("listen", cfg.metrics_listen);
    metrics.finish();

    config::section collector = root.child("collector");
    cfg.collect_interval = collector.get_duration("interval", cfg.collect_interval, 100ms, 1h);
    cfg.push_interval = collector.get_duration("push_interval", cfg.push_interval, 100ms, 1h);
    collector.finish();

    config::section link = root.child("link");
    cfg.state_dir = link.get_string("state_dir", cfg.state_dir);
    if (cfg.state_dir.empty()) link.fail("state_dir", "must not be empty");
    cfg.max_frame_bytes = static_cast<std::size_t>(link.get_int(
        "max_frame_bytes", static_cast<std::int64_t>(cfg.max_frame_bytes), 4096, 64 * 1024 * 1024));
    cfg.send_queue_messages = static_cast<std::size_t>(link.get_int(
        "send_queue_messages", static_cast<std::int64_t>(cfg.send_queue_messages), 1, 1'000'000));
    cfg.reconnect_cap = link.get_duration("reconnect_cap", cfg.reconnect_cap, 100ms, 10min);
    link.finish();

    root.finish();
    return cfg;
}

}  // namespace vpsfleet::agent
