// Bodies the agent sends: hello, inventory, metrics, event, heartbeat, command.*, cert.renew.
#include "protocol/bodies.hpp"

namespace vpsfleet::protocol::detail {

using nlohmann::json;

void read(field_reader& r, hello& m) {
    m.agent_version = r.string("agent_version");
    m.driver = r.choice("driver", k_drivers);
    m.host_name = r.string("host_name");
    field_reader f = r.child("facts");
    m.facts.cpus = f.uint32("cpus");
    m.facts.cpu_mhz = f.uint32("cpu_mhz");
    m.facts.cpu_model = f.string("cpu_model");
    m.facts.memory_bytes = f.uint64("memory_bytes");
    m.facts.disks = f.objects("disks", [](field_reader& d) {
        return disk_fact{d.string("name"), d.uint64("size_bytes"), d.uint64("free_bytes")};
    });
    m.facts.capabilities = f.strings("capabilities");
    m.journal = r.optional_strings("journal");
    m.metrics_listen = r.optional_string("metrics_listen");
}

json write(const hello& m) {
    json disks = json::array();
    for (const auto& d : m.facts.disks) {
        disks.push_back(
            {{"name", d.name}, {"size_bytes", d.size_bytes}, {"free_bytes", d.free_bytes}});
    }
    json out = {{"agent_version", m.agent_version},
                {"driver", m.driver},
                {"host_name", m.host_name},
                {"facts",
                 {{"cpus", m.facts.cpus},
                  {"cpu_mhz", m.facts.cpu_mhz},
                  {"cpu_model", m.facts.cpu_model},
                  {"memory_bytes", m.facts.memory_bytes},
                  {"disks", std::move(disks)},
                  {"capabilities", m.facts.capabilities}}}};
    if (!m.journal.empty()) out["journal"] = m.journal;
    if (m.metrics_listen) out["metrics_listen"] = *m.metrics_listen;
    return out;
}

void read(field_reader& r, inventory& m) {
    m.domains = r.objects("domains", [](field_reader& d) {
        return domain_entry{d.string("uuid"), d.string("name"), d.string("state"),
                            d.string("config_hash")};
    });
}

json write(const inventory& m) {
    json domains = json::array();
    for (const auto& d : m.domains) {
        domains.push_back({{"uuid", d.uuid},
                           {"name", d.name},
                           {"state", d.state},
                           {"config_hash", d.config_hash}});
    }
    return {{"domains", std::move(domains)}};
}

void read(field_reader& r, metrics_batch& m) {
    m.at = r.int64("at");
    field_reader h = r.child("host");
    m.host.cpu_percent = h.number("cpu_percent");
    m.host.memory_used_bytes = h.uint64("memory_used_bytes");
    m.host.memory_total_bytes = h.uint64("memory_total_bytes");
    m.vms = r.objects("vms", [](field_reader& v) {
        return vm_sample{v.string("uuid"),
                         v.number("cpu_percent"),
                         v.uint64("memory_used_bytes"),
                         v.uint64("disk_read_bytes"),
                         v.uint64("disk_write_bytes"),
                         v.uint64("net_rx_bytes"),
                         v.uint64("net_tx_bytes")};
    });
}

json write(const metrics_batch& m) {
    json vms = json::array();
    for (const auto& v : m.vms) {
        vms.push_back({{"uuid", v.uuid},
                       {"cpu_percent", v.cpu_percent},
                       {"memory_used_bytes", v.memory_used_bytes},
                       {"disk_read_bytes", v.disk_read_bytes},
                       {"disk_write_bytes", v.disk_write_bytes},
                       {"net_rx_bytes", v.net_rx_bytes},
                       {"net_tx_bytes", v.net_tx_bytes}});
    }
    return {{"at", m.at},
            {"host",
             {{"cpu_percent", m.host.cpu_percent},
              {"memory_used_bytes", m.host.memory_used_bytes},
              {"memory_total_bytes", m.host.memory_total_bytes}}},
            {"vms", std::move(vms)}};
}

void read(field_reader& r, event& m) {
    m.uuid = r.string("uuid");
    m.event = r.string("event");
    m.state = r.string("state");
    m.detail = r.optional_string("detail");
}

json write(const event& m) {
    json out = {{"uuid", m.uuid}, {"event", m.event}, {"state", m.state}};
    if (m.detail) out["detail"] = *m.detail;
    return out;
}

void read(field_reader& r, heartbeat& m) { m.seq = r.uint64("seq"); }

json write(const heartbeat& m) { return {{"seq", m.seq}}; }

void read(field_reader& r, command_ack& m) { m.command_id = r.string("command_id"); }

json write(const command_ack& m) { return {{"command_id", m.command_id}}; }

void read(field_reader& r, command_progress& m) {
    m.command_id = r.string("command_id");
    m.step = r.uint32("step");
    m.total = r.uint32("total");
    m.message = r.string("message");
}

json write(const command_progress& m) {
    return {
        {"command_id", m.command_id}, {"step", m.step}, {"total", m.total}, {"message", m.message}};
}

void read(field_reader& r, command_result& m) {
    m.command_id = r.string("command_id");
    m.ok = r.boolean("ok");
    if (r.failed()) return;
    // Each side is required by ok's value and optional otherwise.
    if (m.ok || r.has("result")) m.result = r.object("result");
    if (!m.ok || r.has("error")) {
        field_reader e = r.child("error");
        m.error = command_error{e.string("code"), e.string("message")};
    }
}

json write(const command_result& m) {
    json out = {{"command_id", m.command_id}, {"ok", m.ok}};
    if (m.result) out["result"] = *m.result;
    if (m.error) out["error"] = {{"code", m.error->code}, {"message", m.error->message}};
    return out;
}

void read(field_reader& r, cert_renew& m) { m.csr_pem = r.string("csr_pem"); }

json write(const cert_renew& m) { return {{"csr_pem", m.csr_pem}}; }

}  // namespace vpsfleet::protocol::detail
