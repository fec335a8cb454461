#include "agent/config.hpp"

namespace vpsfleet::agent {

using namespace std::chrono_literals;

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
    cfg.driver = hypervisor.get_choice("driver", cfg.driver, {"libvirt"});
    cfg.libvirt_uri = hypervisor.get_string("libvirt_uri", cfg.libvirt_uri);
    if (cfg.libvirt_uri.find("://") == std::string::npos) {
        hypervisor.fail("libvirt_uri", "expected a libvirt URI such as qemu:///system, got '" +
                                           cfg.libvirt_uri + "'");
    }
    hypervisor.finish();

    config::section metrics = root.child("metrics");
    cfg.metrics_listen = metrics.get_endpoint("listen", cfg.metrics_listen);
    metrics.finish();

    config::section collector = root.child("collector");
    cfg.collect_interval = collector.get_duration("interval", cfg.collect_interval, 100ms, 1h);
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
