#include "coordinator/api/admin/fleet_routes.hpp"
#include "coordinator/api/admin/read_routes.hpp"
#include "coordinator/api/admin/role_routes.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/scheduler/reservations.hpp"
#include "coordinator/store/sql.hpp"

namespace vpsfleet::api::admin {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

const std::string k_disk_select =
    "SELECT id, name, size, kind, interface, enabled FROM host_disks ";

json disk_json(const pqxx::row& r) {
    return {{"id", r[0].as<std::int64_t>()},       {"name", r[1].as<std::string>()},
            {"size", r[2].as<std::int64_t>()},     {"kind", r[3].as<std::string>()},
            {"interface", r[4].as<std::string>()}, {"enabled", r[5].as<bool>()}};
}

// AdminHostInfo, plus what the fleet link knows (state, last_seen_at, agent_version).
json host_json(pqxx::work& tx, std::int64_t id) {
    const auto rows = tx.exec_params(
        "SELECT h.name, h.kind, g.id, g.name, g.enabled, h.ip, h.cpu, h.memory, h.enabled, "
        "h.load_cpu::float8, h.load_memory::float8, h.load_disk::float8, h.vlan_id, h.state, " +
            store::iso8601("h.last_seen_at") +
            ", h.agent_version FROM hosts h JOIN regions g ON g.id = h.region_id WHERE h.id = $1",
        id);
    if (rows.empty()) throw not_found("host_not_found", "host not found");
    const auto r = rows[0];
    json disks = json::array();
    for (const auto& d : tx.exec_params(k_disk_select + "WHERE host_id = $1 ORDER BY id", id)) {
        disks.push_back(disk_json(d));
    }
    const auto candidate = scheduler::read_candidate(tx, id);
    const auto load =
        candidate ? scheduler::calculate_load(*candidate) : scheduler::calculated_load{};
    return {{"id", id},
            {"name", r[0].as<std::string>()},
            {"kind", r[1].as<std::string>()},
            {"region",
             {{"id", r[2].as<std::int64_t>()},
              {"name", r[3].as<std::string>()},
              {"enabled", r[4].as<bool>()}}},
            {"ip", r[5].as<std::string>()},
            {"cpu", r[6].as<std::int64_t>()},
            {"memory", r[7].as<std::int64_t>()},
            {"enabled", r[8].as<bool>()},
            {"load_cpu", r[9].as<double>()},
            {"load_memory", r[10].as<double>()},
            {"load_disk", r[11].as<double>()},
            {"vlan_id", r[12].is_null() ? json(nullptr) : json(r[12].as<std::int64_t>())},
            {"disks", disks},
            {"calculated_load",
             {{"overall_load", load.overall_load},
              {"cpu_load", load.cpu_load},
              {"memory_load", load.memory_load},
              {"disk_load", load.disk_load},
              {"available_cpu", load.available_cpu},
              {"available_memory", load.available_memory},
              {"active_vms", load.active_vms}}},
            {"state", r[13].as<std::string>()},
            {"last_seen_at", r[14].is_null() ? json(nullptr) : json(r[14].as<std::string>())},
            {"agent_version", r[15].is_null() ? json(nullptr) : json(r[15].as<std::string>())}};
}

std::optional<double> load_factor(const json& body, const std::string& field) {
    const auto it = body.find(field);
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_number() || it->get<double>() <= 0 || it->get<double>() > 100) {
        throw bad_request(field + " must be a number above 0 and at most 100");
    }
    return it->get<double>();
}

std::optional<std::string> choice(const json& body, const std::string& field,
                                  std::initializer_list<const char*> allowed) {
    auto value = optional_string(body, field);
    if (!value) return value;
    for (const char* a : allowed) {
        if (*value == a) return value;
    }
    throw bad_request(field + " has an unknown value '" + *value + "'");
}

std::optional<std::int64_t> positive(const json& body, const std::string& field) {
    const auto v = optional_int(body, field);
    if (v && *v < 0) throw bad_request(field + " must not be negative");
    return v;
}

void require_region(pqxx::work& tx, std::int64_t region_id) {
    if (tx.exec_params("SELECT 1 FROM regions WHERE id = $1", region_id).empty()) {
        throw bad_request("region " + std::to_string(region_id) + " does not exist");
    }
}

json read_disk(pqxx::work& tx, std::int64_t host_id, std::int64_t disk_id) {
    const auto rows =
        tx.exec_params(k_disk_select + "WHERE host_id = $1 AND id = $2", host_id, disk_id);
    if (rows.empty()) throw not_found("disk_not_found", "disk not found");
    return disk_json(rows[0]);
}

}  // namespace

void add_host_routes(endpoints& api, services& s) {
    add_list_route(api, s, "/hosts", "hosts::view", "SELECT count(*) FROM hosts",
                   [](pqxx::work& tx, const page_request& page) {
                       json items = json::array();
                       for (const auto& r :
                            tx.exec_params("SELECT id FROM hosts ORDER BY id LIMIT $1 OFFSET $2",
                                           page.limit, page.offset)) {
                           items.push_back(host_json(tx, r[0].as<std::int64_t>()));
                       }
                       return items;
                   });
    add_get_route(api, s, "/hosts/{id}", "hosts::view", host_json);

    api.add(
        verb::post, "/hosts", access::op("hosts::create"),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const json body = json_body(req);
            const std::string name = required_string(body, "name");
            if (name.empty() || name.size() > 128)
                throw bad_request("name must be 1-128 characters");
            const std::string ip = required_string(body, "ip");
            const auto kind = choice(body, "kind", {"libvirt", "proxmox"});
            const auto region_id = optional_int(body, "region_id");
            const auto cpu = positive(body, "cpu");
            const auto memory = positive(body, "memory");
            if (!kind || !region_id || !cpu || !memory) {
                throw bad_request("name, ip, kind, region_id, cpu and memory are required");
            }
            const auto vlan = optional_int(body, "vlan_id");
            const bool enabled = optional_bool(body, "enabled").value_or(true);
            const double lc = load_factor(body, "load_cpu").value_or(1.0);
            const double lm = load_factor(body, "load_memory").value_or(1.0);
            const double ld = load_factor(body, "load_disk").value_or(1.0);
            auto create = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                require_region(tx, *region_id);
                const auto rows = tx.exec_params(
                    "INSERT INTO hosts (name, kind, region_id, ip, cpu, memory, enabled, "
                    "load_cpu, load_memory, load_disk, vlan_id) "
                    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
                    "ON CONFLICT DO NOTHING RETURNING id",
                    name, *kind, *region_id, ip, *cpu, *memory, enabled, lc, lm, ld, vlan);
                if (rows.empty()) throw conflict("host_exists", "a host with this name exists");
                const auto id = rows[0][0].as<std::int64_t>();
                const json host = host_json(tx, id);
                audit::record(tx, c.who, c.request_id,
                              {"host.create", "host", std::to_string(id), nullptr, host});
                tx.commit();
                return host;
            };
            const json host = co_await s.db.run(create);
            co_return json_reply(admin_data(host), http::status::created);
        });

    api.add(
        verb::patch, "/hosts/{id}", access::op("hosts::update"),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const auto id = id_param(p, "id");
            const json body = json_body(req);
            const auto name = optional_string(body, "name");
            if (name && (name->empty() || name->size() > 128)) {
                throw bad_request("name must be 1-128 characters");
            }
            const auto ip = optional_string(body, "ip");
            const auto kind = choice(body, "kind", {"libvirt", "proxmox"});
            const auto region_id = optional_int(body, "region_id");
            const auto enabled = optional_bool(body, "enabled");
            const auto lc = load_factor(body, "load_cpu");
            const auto lm = load_factor(body, "load_memory");
            const auto ld = load_factor(body, "load_disk");
            const auto vlan = optional_int(body, "vlan_id");
            auto update = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const json before = host_json(tx, id);
                if (region_id) require_region(tx, *region_id);
                try {
                    tx.exec_params(
                        "UPDATE hosts SET name = COALESCE($2, name), ip = COALESCE($3, ip), "
                        "kind = COALESCE($4, kind), region_id = COALESCE($5, region_id), "
                        "enabled = COALESCE($6, enabled), load_cpu = COALESCE($7, load_cpu), "
                        "load_memory = COALESCE($8, load_memory), "
                        "load_disk = COALESCE($9, load_disk), "
                        "vlan_id = CASE WHEN $10 THEN $11 ELSE vlan_id END, updated_at = now() "
                        "WHERE id = $1",
                        id, name, ip, kind, region_id, enabled, lc, lm, ld,
                        body.contains("vlan_id"), vlan);
                } catch (const pqxx::unique_violation&) {
                    throw conflict("host_exists", "a host with this name exists");
                }
                // Disabling takes effect on the live link through the fleet service's
                // access check (the next heartbeat closes it).
                const json after = host_json(tx, id);
                audit::record(tx, c.who, c.request_id,
                              {"host.update", "host", std::to_string(id), before, after});
                tx.commit();
                return after;
            };
            const json host = co_await s.db.run(update);
            co_return json_reply(admin_data(host));
        });

    api.add(verb::get, "/hosts/{id}/disks", access::op("hosts::view"),
            [&s](http::request&, const path_params& p, call&) -> asio::awaitable<http::response> {
                const auto id = id_param(p, "id");
                auto list = [id](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    if (tx.exec_params("SELECT 1 FROM hosts WHERE id = $1", id).empty()) {
                        throw not_found("host_not_found", "host not found");
                    }
                    json items = json::array();
                    for (const auto& d :
                         tx.exec_params(k_disk_select + "WHERE host_id = $1 ORDER BY id", id)) {
                        items.push_back(disk_json(d));
                    }
                    return items;
                };
                const json disks = co_await s.db.run(list);
                co_return json_reply(admin_data(disks));
            });

    api.add(verb::get, "/hosts/{host_id}/disks/{disk_id}", access::op("hosts::view"),
            [&s](http::request&, const path_params& p, call&) -> asio::awaitable<http::response> {
                const auto host_id = id_param(p, "host_id");
                const auto disk_id = id_param(p, "disk_id");
                auto read = [host_id, disk_id](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    return read_disk(tx, host_id, disk_id);
                };
                const json disk = co_await s.db.run(read);
                co_return json_reply(admin_data(disk));
            });

    api.add(
        verb::post, "/hosts/{host_id}/disks", access::op("hosts::update"),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const auto host_id = id_param(p, "host_id");
            const json body = json_body(req);
            const std::string name = required_string(body, "name");
            if (name.empty() || name.size() > 128)
                throw bad_request("name must be 1-128 characters");
            const auto size = positive(body, "size");
            const auto kind = choice(body, "kind", {"ssd", "hdd"});
            const auto interface = choice(body, "interface", {"sata", "scsi", "pcie"});
            if (!size || !kind || !interface) {
                throw bad_request("name, size, kind and interface are required");
            }
            const bool enabled = optional_bool(body, "enabled").value_or(true);
            auto create = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                if (tx.exec_params("SELECT 1 FROM hosts WHERE id = $1", host_id).empty()) {
                    throw not_found("host_not_found", "host not found");
                }
                const auto rows = tx.exec_params(
                    "INSERT INTO host_disks (host_id, name, size, kind, interface, enabled) "
                    "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING id",
                    host_id, name, *size, *kind, *interface, enabled);
                if (rows.empty()) {
                    throw conflict("disk_exists", "the host has a disk with this name");
                }
                const json disk = read_disk(tx, host_id, rows[0][0].as<std::int64_t>());
                audit::record(tx, c.who, c.request_id,
                              {"host.disk_create", "host", std::to_string(host_id), nullptr, disk});
                tx.commit();
                return disk;
            };
            const json disk = co_await s.db.run(create);
            co_return json_reply(admin_data(disk), http::status::created);
        });

    api.add(
        verb::patch, "/hosts/{host_id}/disks/{disk_id}", access::op("hosts::update"),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const auto host_id = id_param(p, "host_id");
            const auto disk_id = id_param(p, "disk_id");
            const json body = json_body(req);
            const auto name = optional_string(body, "name");
            if (name && (name->empty() || name->size() > 128)) {
                throw bad_request("name must be 1-128 characters");
            }
            const auto size = positive(body, "size");
            const auto kind = choice(body, "kind", {"ssd", "hdd"});
            const auto interface = choice(body, "interface", {"sata", "scsi", "pcie"});
            const auto enabled = optional_bool(body, "enabled");
            auto update = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const json before = read_disk(tx, host_id, disk_id);
                const auto used =
                    tx.exec_params1("SELECT used FROM host_disks WHERE id = $1", disk_id)[0]
                        .as<std::int64_t>();
                if (size && *size < used) {
                    throw conflict("disk_in_use", "size is below the " + std::to_string(used) +
                                                      " bytes already reserved on the disk");
                }
                try {
                    tx.exec_params(
                        "UPDATE host_disks SET name = COALESCE($3, name), "
                        "size = COALESCE($4, size), kind = COALESCE($5, kind), "
                        "interface = COALESCE($6, interface), enabled = COALESCE($7, enabled), "
                        "updated_at = now() WHERE host_id = $1 AND id = $2",
                        host_id, disk_id, name, size, kind, interface, enabled);
                } catch (const pqxx::unique_violation&) {
                    throw conflict("disk_exists", "the host has a disk with this name");
                }
                const json after = read_disk(tx, host_id, disk_id);
                audit::record(tx, c.who, c.request_id,
                              {"host.disk_update", "host", std::to_string(host_id), before, after});
                tx.commit();
                return after;
            };
            const json disk = co_await s.db.run(update);
            co_return json_reply(admin_data(disk));
        });
}

}  // namespace vpsfleet::api::admin
