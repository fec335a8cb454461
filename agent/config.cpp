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

    root.finish();
    return cfg;
}

}  // namespace vpsfleet::agent
