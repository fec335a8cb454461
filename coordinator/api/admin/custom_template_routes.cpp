// Custom templates (AdminCustomTemplateInfo): sizes priced by a custom pricing model, and the
// model's price quote (/calculate). A size must be one the model offers (cpu and memory within
// its limits, disk priced for its kind and interface and within that pricing's sizes), memory a
// whole MiB and disk a whole GiB as VMs are sized (plans hold memory_mb and disk_gb).
#include "coordinator/api/admin/custom_pricing_routes.hpp"

#include "coordinator/api/admin/custom_pricing_store.hpp"
#include "coordinator/api/admin/fields.hpp"
#include "coordinator/api/admin/role_routes.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/audit/audit_log.hpp"

#include <limits>

namespace vpsfleet::api::admin {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

constexpr std::int64_t k_mib = 1LL << 20;
constexpr std::int64_t k_gib = 1LL << 30;

struct size_fields {
    std::optional<std::int64_t> cpu;
    std::optional<std::int64_t> memory;
    std::optional<std::int64_t> disk_size;
    std::optional<std::string> disk_type;
    std::optional<std::string> disk_interface;
    bool complete() const { return cpu && memory && disk_size && disk_type && disk_interface; }
    bool any() const { return cpu || memory || disk_size || disk_type || disk_interface; }
};

std::optional<std::int64_t> whole_bytes(const json& body, const std::string& field,
                                        std::int64_t unit, const char* unit_name) {
    const auto bytes = int_in(body, field, unit, k_max_size_bytes);
    if (bytes && *bytes % unit != 0) {
        throw bad_request(field + " must be a whole number of " + unit_name + " (in bytes)",
                          {{"field", field}});
    }
    return bytes;
}

size_fields parse_size(const json& body) {
    return {int_in(body, "cpu", 1, 1024), whole_bytes(body, "memory", k_mib, "MiB"),
            whole_bytes(body, "disk_size", k_gib, "GiB"), one_of(body, "disk_type", {"hdd", "ssd"}),
            one_of(body, "disk_interface", {"sata", "scsi", "pcie"})};
}

billing::custom_config merged(billing::custom_config c, const size_fields& f) {
    c.cpu = f.cpu.value_or(c.cpu);
    c.memory = f.memory.value_or(c.memory);
    c.disk_size = f.disk_size.value_or(c.disk_size);
    c.disk_type = f.disk_type.value_or(c.disk_type);
    c.disk_interface = f.disk_interface.value_or(c.disk_interface);
    return c;
}

// 400 naming the field when the model does not offer the configuration.
void require_fit(const billing::custom_model& model, const billing::custom_config& config) {
    if (const auto misfit = billing::check_fit(model, config)) {
        throw bad_request(misfit->message, {{"field", misfit->field}});
    }
    if (!billing::monthly_price(model, config)) {
        throw bad_request("the price of this configuration is too large to represent");
    }
}

// The model a body field names: 400 when there is none (404 is for the path's ids).
json pricing_named_by_body(pqxx::work& tx, std::int64_t id) {
    if (tx.exec_params("SELECT 1 FROM custom_pricing WHERE id = $1 FOR SHARE", id).empty()) {
        throw bad_request("custom pricing model " + std::to_string(id) + " does not exist",
                          {{"field", "pricing_id"}});
    }
    return read_pricing(tx, id);
}

void add_template_reads(endpoints& api, services& s) {
    api.add(
        verb::get, "/custom_pricing/{id}/templates", access::op("vm_custom_pricing::view"),
        [&s](http::request& req, const path_params& p, call&) -> asio::awaitable<http::response> {
            const auto pricing_id = id_param(p, "id");
            const auto page = page_params(req);
            auto list = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                return list_templates(tx, pricing_id, page);
            };
            const json out = co_await s.db.run(list);
            co_return json_reply(out);
        });
    api.add(verb::get, "/custom_templates/{id}", access::op("vm_custom_pricing::view"),
            [&s](http::request&, const path_params& p, call&) -> asio::awaitable<http::response> {
                const auto id = id_param(p, "id");
                auto get = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    return read_template(tx, id);
                };
                const json info = co_await s.db.run(get);
                co_return json_reply(admin_data(info));
            });
}

void add_template_changes(endpoints& api, services& s) {
    api.add(
        verb::post, "/custom_pricing/{id}/templates", access::op("vm_custom_pricing::create"),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const auto pricing_id = id_param(p, "id");
            const size_fields f = parse_size(json_body(req));
            if (!f.complete()) {
                throw bad_request(
                    "cpu, memory, disk_size, disk_type and disk_interface are required");
            }
            const auto config = merged({}, f);
            auto create = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                tx.exec_params("SELECT 1 FROM custom_pricing WHERE id = $1 FOR SHARE", pricing_id);
                require_fit(model_of(read_pricing(tx, pricing_id)), config);
                const auto id =
                    tx.exec_params1(
                          "INSERT INTO custom_templates (pricing_id, cpu, memory, disk_size, "
                          "disk_type, disk_interface) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                          pricing_id, config.cpu, config.memory, config.disk_size, config.disk_type,
                          config.disk_interface)[0]
                        .as<std::int64_t>();
                const json made = read_template(tx, id);
                audit::record(tx, c.who, c.request_id,
                              {"custom_template.create", "custom_template", std::to_string(id),
                               nullptr, made});
                tx.commit();
                return made;
            };
            const json made = co_await s.db.run(create);
            co_return json_reply(admin_data(made), http::status::created);
        });

    // A template VMs were sized by keeps its size and model: those VMs are billed by them.
    api.add(
        verb::patch, "/custom_templates/{id}", access::op("vm_custom_pricing::update"),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const auto id = id_param(p, "id");
            const json body = json_body(req);
            const size_fields f = parse_size(body);
            const auto pricing_id =
                int_in(body, "pricing_id", 1, std::numeric_limits<std::int64_t>::max());
            auto update = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                tx.exec_params("SELECT 1 FROM custom_templates WHERE id = $1 FOR UPDATE", id);
                const json before = read_template(tx, id);
                if ((f.any() || pricing_id) && before["vm_count"].get<std::int64_t>() > 0) {
                    throw conflict("custom_template_in_use",
                                   "VMs were sized by this custom template; create another one");
                }
                const auto target = pricing_id.value_or(before["pricing_id"].get<std::int64_t>());
                const auto config = merged(config_of(before), f);
                require_fit(model_of(pricing_named_by_body(tx, target)), config);
                tx.exec_params(
                    "UPDATE custom_templates SET pricing_id = $2, cpu = $3, memory = $4, "
                    "disk_size = $5, disk_type = $6, disk_interface = $7 WHERE id = $1",
                    id, target, config.cpu, config.memory, config.disk_size, config.disk_type,
                    config.disk_interface);
                const json after = read_template(tx, id);
                audit::record(tx, c.who, c.request_id,
                              {"custom_template.update", "custom_template", std::to_string(id),
                               before, after});
                tx.commit();
                return after;
            };
            const json updated = co_await s.db.run(update);
            co_return json_reply(admin_data(updated));
        });

    api.add(verb::delete_, "/custom_templates/{id}", access::op("vm_custom_pricing::delete"),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const auto id = id_param(p, "id");
                auto remove = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    tx.exec_params("SELECT 1 FROM custom_templates WHERE id = $1 FOR UPDATE", id);
                    const json before = read_template(tx, id);
                    const auto vms = tx.exec_params1(
                                           "SELECT count(*) FROM instances "
                                           "WHERE custom_template_id = $1",
                                           id)[0]
                                         .as<std::int64_t>();
                    if (vms > 0) {
                        throw conflict("custom_template_in_use",
                                       std::to_string(vms) +
                                           " VM(s) were sized by this custom template; it stays "
                                           "so their billing keeps its origin");
                    }
                    tx.exec_params("DELETE FROM custom_templates WHERE id = $1", id);
                    audit::record(tx, c.who, c.request_id,
                                  {"custom_template.delete", "custom_template", std::to_string(id),
                                   before, nullptr});
                    tx.commit();
                };
                co_await s.db.run(remove);
                co_return json_reply(admin_data(nullptr));
            });
}

// A quote for a size under the model, enabled or not; the size must be one it offers.
void add_calculate_route(endpoints& api, services& s) {
    api.add(
        verb::post, "/custom_pricing/{id}/calculate", access::op("vm_custom_pricing::view"),
        [&s](http::request& req, const path_params& p, call&) -> asio::awaitable<http::response> {
            const auto pricing_id = id_param(p, "id");
            const json body = json_body(req);
            const size_fields f = parse_size(body);
            if (!f.complete()) {
                throw bad_request(
                    "cpu, memory, disk_size, disk_type and disk_interface are required");
            }
            auto config = merged({}, f);
            config.ip4_count = int_in(body, "ip4_count", 0, 65536).value_or(1);
            config.ip6_count = int_in(body, "ip6_count", 0, 65536).value_or(1);
            auto calculate = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const json pricing = read_pricing(tx, pricing_id);
                const auto model = model_of(pricing);
                require_fit(model, config);
                json out = price_json(model, config);
                out["currency"] = pricing["currency"];
                out["configuration"] = {{"cpu", config.cpu},
                                        {"memory", config.memory},
                                        {"disk_size", config.disk_size},
                                        {"disk_type", config.disk_type},
                                        {"disk_interface", config.disk_interface},
                                        {"ip4_count", config.ip4_count},
                                        {"ip6_count", config.ip6_count}};
                return out;
            };
            const json out = co_await s.db.run(calculate);
            co_return json_reply(admin_data(out));
        });
}

}  // namespace

void add_custom_template_routes(endpoints& api, services& s) {
    add_template_reads(api, s);
    add_template_changes(api, s);
    add_calculate_route(api, s);
}

}  // namespace vpsfleet::api::admin
