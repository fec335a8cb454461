// /custom_pricing models (AdminCustomPricingInfo): list, get, create, update, delete, copy, and a
// region's models. A PATCH with disk_pricing replaces the model's whole disk pricing; a change
// that would leave one of its custom templates outside the model is refused (409).
#include "coordinator/api/admin/custom_pricing_routes.hpp"

#include "coordinator/api/admin/custom_pricing_store.hpp"
#include "coordinator/api/admin/fields.hpp"
#include "coordinator/api/admin/read_routes.hpp"
#include "coordinator/api/admin/role_routes.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/billing/money.hpp"

#include <algorithm>
#include <limits>

namespace vpsfleet::api::admin {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using billing::custom_model;
using http::path_params;

namespace {

constexpr std::int64_t k_id_max = std::numeric_limits<std::int64_t>::max();

struct pricing_fields {
    std::optional<std::string> name;
    std::optional<bool> enabled;
    bool set_expires = false;
    std::optional<std::string> expires;
    std::optional<std::int64_t> region_id;
    std::optional<std::string> currency;
    std::optional<std::int64_t> cpu_cost, memory_cost, ip4_cost, ip6_cost;
    std::optional<std::int64_t> min_cpu, max_cpu, min_memory, max_memory;
    std::optional<std::vector<billing::custom_disk_rate>> disks;
};

std::optional<std::string> currency_field(const json& body) {
    auto currency = optional_string(body, "currency");
    if (!currency) return currency;
    std::ranges::transform(*currency, currency->begin(),
                           [](unsigned char c) { return std::toupper(c); });
    if (!billing::is_currency_code(*currency)) {
        throw bad_request("currency must be a 3-letter currency code such as EUR",
                          {{"field", "currency"}});
    }
    return currency;
}

billing::custom_disk_rate disk_entry(const json& e) {
    if (!e.is_object()) throw bad_request("must be an object");
    const auto kind = one_of(e, "kind", {"hdd", "ssd"});
    const auto interface = one_of(e, "interface", {"sata", "scsi", "pcie"});
    const auto cost = int_in(e, "cost", 0, k_max_cost);
    const auto min = int_in(e, "min_disk_size", 1, k_max_size_bytes);
    const auto max = int_in(e, "max_disk_size", 1, k_max_size_bytes);
    if (!kind || !interface || !cost || !min || !max) {
        throw bad_request("kind, interface, cost, min_disk_size and max_disk_size are required");
    }
    if (*min > *max) throw bad_request("min_disk_size must not exceed max_disk_size");
    return {*kind, *interface, *cost, *min, *max};
}

std::optional<std::vector<billing::custom_disk_rate>> disk_pricing_field(const json& body) {
    const auto it = body.find("disk_pricing");
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_array()) {
        throw bad_request("disk_pricing must be an array", {{"field", "disk_pricing"}});
    }
    std::vector<billing::custom_disk_rate> disks;
    for (std::size_t i = 0; i < it->size(); ++i) {
        const std::string where = "disk_pricing[" + std::to_string(i) + "]";
        try {
            disks.push_back(disk_entry((*it)[i]));
        } catch (const api_error& e) {
            throw bad_request(where + ": " + e.what(), {{"field", "disk_pricing"}});
        }
        const auto& d = disks.back();
        if (std::ranges::count_if(disks, [&d](const auto& o) {
                return o.kind == d.kind && o.interface == d.interface;
            }) > 1) {
            throw bad_request(where + ": " + d.kind + " on " + d.interface + " is priced twice",
                              {{"field", "disk_pricing"}});
        }
    }
    return disks;
}

pricing_fields parse_pricing(const json& body) {
    pricing_fields f;
    f.name = bounded_string(body, "name", 1, 100);
    f.enabled = optional_bool(body, "enabled");
    f.set_expires = body.contains("expires");
    f.expires = iso8601_field(body, "expires");
    f.region_id = int_in(body, "region_id", 1, k_id_max);
    f.currency = currency_field(body);
    f.cpu_cost = int_in(body, "cpu_cost", 0, k_max_cost);
    f.memory_cost = int_in(body, "memory_cost", 0, k_max_cost);
    f.ip4_cost = int_in(body, "ip4_cost", 0, k_max_cost);
    f.ip6_cost = int_in(body, "ip6_cost", 0, k_max_cost);
    f.min_cpu = int_in(body, "min_cpu", 1, 1024);
    f.max_cpu = int_in(body, "max_cpu", 1, 1024);
    f.min_memory = int_in(body, "min_memory", 1, k_max_size_bytes);
    f.max_memory = int_in(body, "max_memory", 1, k_max_size_bytes);
    f.disks = disk_pricing_field(body);
    return f;
}

// The model with the given fields laid over it, its minimums checked against its maximums.
custom_model apply(custom_model m, const pricing_fields& f) {
    m.currency = f.currency.value_or(m.currency);
    m.cpu_cost = f.cpu_cost.value_or(m.cpu_cost);
    m.memory_cost = f.memory_cost.value_or(m.memory_cost);
    m.ip4_cost = f.ip4_cost.value_or(m.ip4_cost);
    m.ip6_cost = f.ip6_cost.value_or(m.ip6_cost);
    m.min_cpu = f.min_cpu.value_or(m.min_cpu);
    m.max_cpu = f.max_cpu.value_or(m.max_cpu);
    m.min_memory = f.min_memory.value_or(m.min_memory);
    m.max_memory = f.max_memory.value_or(m.max_memory);
    if (f.disks) m.disks = *f.disks;
    if (m.min_cpu > m.max_cpu) {
        throw bad_request("min_cpu (" + std::to_string(m.min_cpu) + ") must not exceed max_cpu (" +
                              std::to_string(m.max_cpu) + ")",
                          {{"field", f.min_cpu ? "min_cpu" : "max_cpu"}});
    }
    if (m.min_memory > m.max_memory) {
        throw bad_request("min_memory (" + std::to_string(m.min_memory) +
                              ") must not exceed max_memory (" + std::to_string(m.max_memory) + ")",
                          {{"field", f.min_memory ? "min_memory" : "max_memory"}});
    }
    return m;
}

void require_region(pqxx::work& tx, std::int64_t region_id) {
    if (tx.exec_params("SELECT 1 FROM regions WHERE id = $1 FOR KEY SHARE", region_id).empty()) {
        throw bad_request("region " + std::to_string(region_id) + " does not exist",
                          {{"field", "region_id"}});
    }
}

std::int64_t insert_pricing(pqxx::work& tx, const std::string& name, bool enabled,
                            const std::optional<std::string>& expires, std::int64_t region_id,
                            const custom_model& m) {
    return tx
        .exec_params1(
            "INSERT INTO custom_pricing (name, enabled, expires_at, region_id, currency, cpu_cost, "
            "memory_cost, ip4_cost, ip6_cost, min_cpu, max_cpu, min_memory, max_memory) "
            "VALUES ($1, $2, $3::timestamptz, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "
            "RETURNING id",
            name, enabled, expires, region_id, m.currency, m.cpu_cost, m.memory_cost, m.ip4_cost,
            m.ip6_cost, m.min_cpu, m.max_cpu, m.min_memory, m.max_memory)[0]
        .as<std::int64_t>();
}

void replace_disks(pqxx::work& tx, std::int64_t id, const custom_model& m) {
    tx.exec_params("DELETE FROM custom_pricing_disk WHERE pricing_id = $1", id);
    for (const auto& d : m.disks) {
        tx.exec_params(
            "INSERT INTO custom_pricing_disk (pricing_id, kind, interface, cost, min_disk_size, "
            "max_disk_size) VALUES ($1, $2, $3, $4, $5, $6)",
            id, d.kind, d.interface, d.cost, d.min_disk_size, d.max_disk_size);
    }
}

// Every custom template of the model must still be one it offers.
void check_templates_fit(pqxx::work& tx, std::int64_t id, const custom_model& m) {
    for (const auto& r : tx.exec_params("SELECT id, cpu, memory, disk_size, disk_type, "
                                        "disk_interface FROM custom_templates "
                                        "WHERE pricing_id = $1 ORDER BY id",
                                        id)) {
        const billing::custom_config config{r[1].as<std::int64_t>(), r[2].as<std::int64_t>(),
                                            r[3].as<std::int64_t>(), r[4].as<std::string>(),
                                            r[5].as<std::string>()};
        if (const auto misfit = billing::check_fit(m, config)) {
            throw conflict("custom_pricing_in_use",
                           "custom template " + r[0].as<std::string>() +
                               " would no longer fit this pricing model: " + misfit->message);
        }
    }
}

std::optional<std::string> text_of(const json& value) {
    return value.is_null() ? std::nullopt : std::optional(value.get<std::string>());
}

void add_list_routes(endpoints& api, services& s) {
    api.add(verb::get, "/custom_pricing", access::op("vm_custom_pricing::view"),
            [&s](http::request& req, const path_params&, call&) -> asio::awaitable<http::response> {
                const auto page = page_params(req);
                const auto region = query_id(req, "region_id");
                const auto enabled = query_bool(req, "enabled");
                auto list = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    return list_pricing(tx, region, enabled, page);
                };
                const json out = co_await s.db.run(list);
                co_return json_reply(out);
            });
    add_get_route(api, s, "/custom_pricing/{id}", "vm_custom_pricing::view", read_pricing);

    api.add(
        verb::get, "/regions/{id}/custom_pricing", access::op("vm_custom_pricing::view"),
        [&s](http::request& req, const path_params& p, call&) -> asio::awaitable<http::response> {
            const auto region = id_param(p, "id");
            const auto page = page_params(req);
            const auto enabled = query_bool(req, "enabled");
            auto list = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                if (tx.exec_params("SELECT 1 FROM regions WHERE id = $1", region).empty()) {
                    throw not_found("region_not_found", "region not found");
                }
                return list_pricing(tx, region, enabled, page);
            };
            const json out = co_await s.db.run(list);
            co_return json_reply(out);
        });
}

void add_create_routes(endpoints& api, services& s) {
    api.add(
        verb::post, "/custom_pricing", access::op("vm_custom_pricing::create"),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const pricing_fields f = parse_pricing(json_body(req));
            if (!f.name || !f.region_id || !f.currency || !f.cpu_cost || !f.memory_cost ||
                !f.ip4_cost || !f.ip6_cost || !f.min_cpu || !f.max_cpu || !f.min_memory ||
                !f.max_memory || !f.disks) {
                throw bad_request(
                    "name, region_id, currency, cpu_cost, memory_cost, ip4_cost, ip6_cost, "
                    "min_cpu, max_cpu, min_memory, max_memory and disk_pricing are required");
            }
            const custom_model model = apply({}, f);
            auto create = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                require_region(tx, *f.region_id);
                const auto id = insert_pricing(tx, *f.name, f.enabled.value_or(true), f.expires,
                                               *f.region_id, model);
                replace_disks(tx, id, model);
                const json made = read_pricing(tx, id);
                audit::record(
                    tx, c.who, c.request_id,
                    {"custom_pricing.create", "custom_pricing", std::to_string(id), nullptr, made});
                tx.commit();
                return made;
            };
            const json made = co_await s.db.run(create);
            co_return json_reply(admin_data(made), http::status::created);
        });

    // The copy keeps the source's prices, limits, disk pricing and expiry; not its templates.
    api.add(
        verb::post, "/custom_pricing/{id}/copy", access::op("vm_custom_pricing::create"),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const auto source_id = id_param(p, "id");
            const json body = json_body(req);
            const auto name = bounded_string(body, "name", 1, 100);
            const auto region_id = int_in(body, "region_id", 1, k_id_max);
            const auto enabled = optional_bool(body, "enabled");
            if (!name) throw bad_request("name is required", {{"field", "name"}});
            auto copy = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const json source = read_pricing(tx, source_id);
                const auto region = region_id.value_or(source["region_id"].get<std::int64_t>());
                require_region(tx, region);
                const custom_model model = model_of(source);
                const auto id = insert_pricing(tx, *name, enabled.value_or(true),
                                               text_of(source["expires"]), region, model);
                replace_disks(tx, id, model);
                const json made = read_pricing(tx, id);
                audit::record(tx, c.who, c.request_id,
                              {"custom_pricing.copy",
                               "custom_pricing",
                               std::to_string(id),
                               {{"source_id", source_id}},
                               made});
                tx.commit();
                return made;
            };
            const json made = co_await s.db.run(copy);
            co_return json_reply(admin_data(made), http::status::created);
        });
}

void add_change_routes(endpoints& api, services& s) {
    api.add(
        verb::patch, "/custom_pricing/{id}", access::op("vm_custom_pricing::update"),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const auto id = id_param(p, "id");
            const pricing_fields f = parse_pricing(json_body(req));
            auto update = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                tx.exec_params("SELECT 1 FROM custom_pricing WHERE id = $1 FOR UPDATE", id);
                const json before = read_pricing(tx, id);
                const custom_model model = apply(model_of(before), f);
                if (f.region_id) require_region(tx, *f.region_id);
                check_templates_fit(tx, id, model);
                tx.exec_params(
                    "UPDATE custom_pricing SET name = COALESCE($2, name), "
                    "enabled = COALESCE($3, enabled), "
                    "expires_at = CASE WHEN $4 THEN $5::timestamptz ELSE expires_at END, "
                    "region_id = COALESCE($6, region_id), currency = $7, cpu_cost = $8, "
                    "memory_cost = $9, ip4_cost = $10, ip6_cost = $11, min_cpu = $12, "
                    "max_cpu = $13, min_memory = $14, max_memory = $15 WHERE id = $1",
                    id, f.name, f.enabled, f.set_expires, f.expires, f.region_id, model.currency,
                    model.cpu_cost, model.memory_cost, model.ip4_cost, model.ip6_cost,
                    model.min_cpu, model.max_cpu, model.min_memory, model.max_memory);
                if (f.disks) replace_disks(tx, id, model);
                const json after = read_pricing(tx, id);
                audit::record(
                    tx, c.who, c.request_id,
                    {"custom_pricing.update", "custom_pricing", std::to_string(id), before, after});
                tx.commit();
                return after;
            };
            const json updated = co_await s.db.run(update);
            co_return json_reply(admin_data(updated));
        });

    // A model custom templates use is disabled instead, so their prices stay readable.
    api.add(
        verb::delete_, "/custom_pricing/{id}", access::op("vm_custom_pricing::delete"),
        [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const auto id = id_param(p, "id");
            auto remove = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                tx.exec_params("SELECT 1 FROM custom_pricing WHERE id = $1 FOR UPDATE", id);
                const json before = read_pricing(tx, id);
                const auto templates = before["template_count"].get<std::int64_t>();
                json outcome;
                if (templates > 0) {
                    tx.exec_params("UPDATE custom_pricing SET enabled = false WHERE id = $1", id);
                    outcome = {
                        {"success", true},
                        {"message", "custom pricing model disabled instead of deleted: " +
                                        std::to_string(templates) + " custom template(s) use it"}};
                    audit::record(tx, c.who, c.request_id,
                                  {"custom_pricing.disable", "custom_pricing", std::to_string(id),
                                   before, read_pricing(tx, id)});
                } else {
                    tx.exec_params("DELETE FROM custom_pricing WHERE id = $1", id);
                    outcome = {{"success", true}, {"message", "custom pricing model deleted"}};
                    audit::record(tx, c.who, c.request_id,
                                  {"custom_pricing.delete", "custom_pricing", std::to_string(id),
                                   before, nullptr});
                }
                tx.commit();
                return outcome;
            };
            const json outcome = co_await s.db.run(remove);
            co_return json_reply(admin_data(outcome));
        });
}

}  // namespace

void add_custom_pricing_routes(endpoints& api, services& s) {
    add_list_routes(api, s);
    add_create_routes(api, s);
    add_change_routes(api, s);
}

}  // namespace vpsfleet::api::admin
