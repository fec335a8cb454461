// /vm_templates (AdminVmTemplateInfo) on the customer catalog's plans rows, and /cost_plans
// (AdminCostPlanInfo). The API speaks bytes; plans hold memory in MiB and disks in GiB, so sizes
// must be whole MiB and GiB. A plan's customer prices follow its cost plan (migration 0012).
#include "common/secrets.hpp"
#include "coordinator/api/admin/business_routes.hpp"
#include "coordinator/api/admin/fields.hpp"
#include "coordinator/api/admin/read_routes.hpp"
#include "coordinator/api/admin/role_routes.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/store/sql.hpp"

#include <algorithm>
#include <limits>

namespace vpsfleet::api::admin {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

constexpr std::int64_t k_mib = 1024LL * 1024;
constexpr std::int64_t k_gib = 1024LL * k_mib;
constexpr std::int64_t k_int_max = std::numeric_limits<std::int32_t>::max();

// ---- cost plans ----------------------------------------------------------------------------

const std::string k_cost_plan_select =
    "SELECT c.id, c.name, " + store::iso8601("c.created_at") +
    ", c.amount, c.currency, c.interval_amount, c.interval_type, "
    "(SELECT count(*) FROM plans p WHERE p.cost_plan_id = c.id) FROM cost_plans c ";

json cost_plan_json(const pqxx::row& r) {
    return {{"id", r[0].as<std::int64_t>()},           {"name", r[1].as<std::string>()},
            {"created", r[2].as<std::string>()},       {"amount", r[3].as<std::int64_t>()},
            {"currency", r[4].as<std::string>()},      {"interval_amount", r[5].as<std::int64_t>()},
            {"interval_type", r[6].as<std::string>()}, {"template_count", r[7].as<std::int64_t>()}};
}

json read_cost_plan(pqxx::work& tx, std::int64_t id) {
    return read_one(tx, k_cost_plan_select + "WHERE c.id = $1", id, "cost_plan_not_found",
                    "cost plan not found", cost_plan_json);
}

// A cost plan's fields as given, checked; `prefix` is "cost_plan_" inside a template body.
struct cost_fields {
    std::optional<std::string> name;
    std::optional<std::int64_t> amount;  // minor units
    std::optional<std::string> currency;
    std::optional<std::int64_t> interval_amount;
    std::optional<std::string> interval_type;
    bool any() const { return name || amount || currency || interval_amount || interval_type; }
};

cost_fields parse_cost_fields(const json& body, const std::string& prefix) {
    cost_fields f;
    f.name = bounded_string(body, prefix + "name", 1, 100);
    f.amount = int_in(body, prefix + "amount", 0, 1'000'000'000'000);
    f.currency = optional_string(body, prefix + "currency");
    if (f.currency) {
        if (f.currency->size() != 3 || !std::ranges::all_of(*f.currency, [](char c) {
                return std::isalpha(static_cast<unsigned char>(c));
            })) {
            throw bad_request(prefix + "currency must be a 3-letter currency code such as EUR",
                              {{"field", prefix + "currency"}});
        }
        std::ranges::transform(*f.currency, f.currency->begin(),
                               [](unsigned char c) { return std::toupper(c); });
    }
    f.interval_amount = int_in(body, prefix + "interval_amount", 1, 1000);
    f.interval_type = one_of(body, prefix + "interval_type", {"day", "month", "year"});
    return f;
}

std::int64_t insert_cost_plan(pqxx::work& tx, const cost_fields& f) {
    return tx
        .exec_params1(
            "INSERT INTO cost_plans (name, amount, currency, interval_amount, interval_type) "
            "VALUES ($1, $2, $3, $4, $5) RETURNING id",
            *f.name, *f.amount, *f.currency, *f.interval_amount, *f.interval_type)[0]
        .as<std::int64_t>();
}

void update_cost_plan(pqxx::work& tx, std::int64_t id, const cost_fields& f) {
    tx.exec_params(
        "UPDATE cost_plans SET name = COALESCE($2, name), amount = COALESCE($3, amount), "
        "currency = COALESCE($4, currency), interval_amount = COALESCE($5, interval_amount), "
        "interval_type = COALESCE($6, interval_type) WHERE id = $1",
        id, f.name, f.amount, f.currency, f.interval_amount, f.interval_type);
}

void require_cost_plan(pqxx::work& tx, std::int64_t id) {
    if (tx.exec_params("SELECT 1 FROM cost_plans WHERE id = $1 FOR KEY SHARE", id).empty()) {
        throw bad_request("cost plan " + std::to_string(id) + " does not exist",
                          {{"field", "cost_plan_id"}});
    }
}

// ---- templates -----------------------------------------------------------------------------

const std::string k_template_select =
    "SELECT p.id, p.name, p.active, " + store::iso8601("p.created_at") + ", " +
    store::iso8601("p.expires_at") +
    ", p.vcpu, p.memory_mb, p.disk_gb, p.disk_type, p.disk_interface, p.cost_plan_id, "
    "p.region_id, g.name, c.name, "
    "(SELECT count(*) FROM instances i WHERE i.plan_id = p.id AND i.deleted_at IS NULL) "
    "FROM plans p LEFT JOIN regions g ON g.id = p.region_id "
    "LEFT JOIN cost_plans c ON c.id = p.cost_plan_id WHERE p.deleted_at IS NULL ";

// region_id null: the template is offered in every region.
json template_json(const pqxx::row& r) {
    return {{"id", r[0].as<std::int64_t>()},
            {"name", r[1].as<std::string>()},
            {"enabled", r[2].as<bool>()},
            {"created", r[3].as<std::string>()},
            {"expires", text_or_null(r[4])},
            {"cpu", r[5].as<std::int64_t>()},
            {"memory", r[6].as<std::int64_t>() * k_mib},
            {"disk_size", r[7].as<std::int64_t>() * k_gib},
            {"disk_type", r[8].as<std::string>()},
            {"disk_interface", r[9].as<std::string>()},
            {"cost_plan_id", int_or_null(r[10])},
            {"region_id", int_or_null(r[11])},
            {"region_name", text_or_null(r[12])},
            {"cost_plan_name", text_or_null(r[13])},
            {"active_vm_count", r[14].as<std::int64_t>()}};
}

json read_template(pqxx::work& tx, std::int64_t id) {
    return read_one(tx, k_template_select + "AND p.id = $1", id, "template_not_found",
                    "VM template not found", template_json);
}

struct template_fields {
    std::optional<std::string> name;
    std::optional<bool> enabled;
    bool set_expires = false;
    std::optional<std::string> expires;
    std::optional<std::int64_t> cpu;
    std::optional<std::int64_t> memory_mb;
    std::optional<std::int64_t> disk_gb;
    std::optional<std::string> disk_type;
    std::optional<std::string> disk_interface;
    std::optional<std::int64_t> cost_plan_id;
    bool set_region = false;
    std::optional<std::int64_t> region_id;
    cost_fields cost;
    bool resources() const { return cpu || memory_mb || disk_gb || disk_type || disk_interface; }
};

std::optional<std::int64_t> whole_units(const json& body, const std::string& field,
                                        std::int64_t unit, const char* unit_name) {
    const auto bytes = int_in(body, field, unit, k_int_max * unit);
    if (bytes && *bytes % unit != 0) {
        throw bad_request(field + " must be a whole number of " + unit_name + " (in bytes)",
                          {{"field", field}});
    }
    return bytes ? std::optional(*bytes / unit) : std::nullopt;
}

template_fields parse_template(const json& body) {
    template_fields t;
    t.name = bounded_string(body, "name", 1, 100);
    t.enabled = optional_bool(body, "enabled");
    t.set_expires = body.contains("expires");
    t.expires = iso8601_field(body, "expires");
    t.cpu = int_in(body, "cpu", 1, 1024);
    t.memory_mb = whole_units(body, "memory", k_mib, "MiB");
    t.disk_gb = whole_units(body, "disk_size", k_gib, "GiB");
    t.disk_type = one_of(body, "disk_type", {"hdd", "ssd"});
    t.disk_interface = one_of(body, "disk_interface", {"sata", "scsi", "pcie"});
    t.cost_plan_id = int_in(body, "cost_plan_id", 1, std::numeric_limits<std::int64_t>::max());
    t.set_region = body.contains("region_id");
    t.region_id = int_in(body, "region_id", 1, std::numeric_limits<std::int64_t>::max());
    t.cost = parse_cost_fields(body, "cost_plan_");
    return t;
}

void require_region(pqxx::work& tx, const std::optional<std::int64_t>& region_id) {
    if (region_id &&
        tx.exec_params("SELECT 1 FROM regions WHERE id = $1 FOR KEY SHARE", *region_id).empty()) {
        throw bad_request("region " + std::to_string(*region_id) + " does not exist",
                          {{"field", "region_id"}});
    }
}

// The plan code customers order by: the name in lower case with dashes, made unique.
std::string plan_code(pqxx::work& tx, const std::string& name) {
    std::string slug;
    for (const unsigned char c : name) {
        if (std::isalnum(c)) {
            slug += static_cast<char>(std::tolower(c));
        } else if (!slug.empty() && slug.back() != '-') {
            slug += '-';
        }
    }
    while (!slug.empty() && slug.back() == '-') slug.pop_back();
    slug = slug.substr(0, 48);
    if (slug.empty()) slug = "template";
    if (tx.exec_params("SELECT 1 FROM plans WHERE code = $1", slug).empty()) return slug;
    std::string suffix;
    for (const char c : secrets::random_token("", 6)) {
        if (std::isalnum(static_cast<unsigned char>(c))) {
            suffix += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        }
    }
    return slug + "-" + suffix;
}

}  // namespace

void add_template_routes(endpoints& api, services& s) {
    add_list_route(api, s, "/vm_templates", "vm_template::view",
                   "SELECT count(*) FROM plans WHERE deleted_at IS NULL",
                   k_template_select + "ORDER BY p.id", template_json);
    add_get_route(api, s, "/vm_templates/{id}", "vm_template::view", read_template);

    api.add(
        verb::post, "/vm_templates", access::op("vm_template::create"),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            template_fields t = parse_template(json_body(req));
            if (!t.name || !t.cpu || !t.memory_mb || !t.disk_gb || !t.disk_type ||
                !t.disk_interface) {
                throw bad_request(
                    "name, cpu, memory, disk_size, disk_type and disk_interface are required");
            }
            if (!t.cost_plan_id) {
                if (!t.cost.amount) {
                    throw bad_request("cost_plan_amount is required without a cost_plan_id",
                                      {{"field", "cost_plan_amount"}});
                }
                t.cost.name = t.cost.name.value_or(*t.name + " Cost Plan");
                t.cost.currency = t.cost.currency.value_or("USD");
                t.cost.interval_amount = t.cost.interval_amount.value_or(1);
                t.cost.interval_type = t.cost.interval_type.value_or("month");
            }
            const std::string uid = secrets::random_token("pln_", 9);
            auto create = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                require_region(tx, t.region_id);
                json made_cost_plan;
                std::int64_t cost_plan_id = 0;
                if (t.cost_plan_id) {
                    require_cost_plan(tx, *t.cost_plan_id);
                    cost_plan_id = *t.cost_plan_id;
                } else {
                    cost_plan_id = insert_cost_plan(tx, t.cost);
                    made_cost_plan = read_cost_plan(tx, cost_plan_id);
                }
                const std::string code = plan_code(tx, *t.name);
                std::string family = code.substr(0, code.find('-'));
                // Prices come from the cost plan (trigger); network speed is not an LNVPS field.
                std::int64_t id = 0;
                try {
                    id = tx.exec_params1(
                               "INSERT INTO plans (uid, code, name, family, vcpu, memory_mb, "
                               "disk_gb, network_mbps, price_monthly_ore, price_hourly_ore, "
                               "active, region_id, cost_plan_id, disk_type, disk_interface, "
                               "expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, 1000, 0, 0, $8, "
                               "$9, $10, $11, $12, $13::timestamptz) RETURNING id",
                               uid, code, *t.name, family, *t.cpu, *t.memory_mb, *t.disk_gb,
                               t.enabled.value_or(true), t.region_id, cost_plan_id, *t.disk_type,
                               *t.disk_interface, t.expires)[0]
                             .as<std::int64_t>();
                } catch (const pqxx::unique_violation&) {
                    throw conflict("template_exists",
                                   "another template took this name's code; try again");
                }
                const json made = read_template(tx, id);
                if (!made_cost_plan.is_null()) {
                    audit::record(tx, c.who, c.request_id,
                                  {"cost_plan.create", "cost_plan", std::to_string(cost_plan_id),
                                   nullptr, made_cost_plan});
                }
                audit::record(
                    tx, c.who, c.request_id,
                    {"vm_template.create", "vm_template", std::to_string(id), nullptr, made});
                tx.commit();
                return made;
            };
            const json made = co_await s.db.run(create);
            co_return json_reply(admin_data(made), http::status::created);
        });

    // cost_plan_* fields change the template's cost plan, which other templates may share. The
    // resources of a template VMs use stay as they are: those VMs were built from them.
    api.add(
        verb::patch, "/vm_templates/{id}", access::op("vm_template::update"),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const auto id = id_param(p, "id");
            const template_fields t = parse_template(json_body(req));
            auto update = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                tx.exec_params("SELECT 1 FROM plans WHERE id = $1 FOR UPDATE", id);
                const json before = read_template(tx, id);
                if (t.resources() && before["active_vm_count"].get<std::int64_t>() > 0) {
                    throw conflict("template_in_use",
                                   "cpu, memory and disk of a template VMs use cannot change; "
                                   "create another template");
                }
                if (t.set_region) require_region(tx, t.region_id);
                if (t.cost_plan_id) require_cost_plan(tx, *t.cost_plan_id);
                tx.exec_params(
                    "UPDATE plans SET name = COALESCE($2, name), active = COALESCE($3, active), "
                    "expires_at = CASE WHEN $4 THEN $5::timestamptz ELSE expires_at END, "
                    "vcpu = COALESCE($6, vcpu), memory_mb = COALESCE($7, memory_mb), "
                    "disk_gb = COALESCE($8, disk_gb), disk_type = COALESCE($9, disk_type), "
                    "disk_interface = COALESCE($10, disk_interface), "
                    "cost_plan_id = COALESCE($11, cost_plan_id), "
                    "region_id = CASE WHEN $12 THEN $13 ELSE region_id END WHERE id = $1",
                    id, t.name, t.enabled, t.set_expires, t.expires, t.cpu, t.memory_mb, t.disk_gb,
                    t.disk_type, t.disk_interface, t.cost_plan_id, t.set_region, t.region_id);
                if (t.cost.any()) {
                    const auto cost_plan_id =
                        tx.exec_params1("SELECT cost_plan_id FROM plans WHERE id = $1", id)[0]
                            .as<std::int64_t>();
                    const json cost_before = read_cost_plan(tx, cost_plan_id);
                    update_cost_plan(tx, cost_plan_id, t.cost);
                    audit::record(tx, c.who, c.request_id,
                                  {"cost_plan.update", "cost_plan", std::to_string(cost_plan_id),
                                   cost_before, read_cost_plan(tx, cost_plan_id)});
                }
                const json after = read_template(tx, id);
                audit::record(
                    tx, c.who, c.request_id,
                    {"vm_template.update", "vm_template", std::to_string(id), before, after});
                tx.commit();
                return after;
            };
            const json updated = co_await s.db.run(update);
            co_return json_reply(admin_data(updated));
        });

    // Refused while live VMs use the template; one only deleted VMs name stays as a tombstone.
    // Its cost plan goes with it when no other template uses that.
    api.add(verb::delete_, "/vm_templates/{id}", access::op("vm_template::delete"),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const auto id = id_param(p, "id");
                auto remove = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    tx.exec_params("SELECT 1 FROM plans WHERE id = $1 FOR UPDATE", id);
                    const json before = read_template(tx, id);
                    const auto in_use = before["active_vm_count"].get<std::int64_t>();
                    if (in_use > 0) {
                        throw conflict("template_in_use", "the VM template is used by " +
                                                              std::to_string(in_use) +
                                                              " VM(s); disable it instead");
                    }
                    if (tx.exec_params("SELECT 1 FROM instances WHERE plan_id = $1 LIMIT 1", id)
                            .empty()) {
                        tx.exec_params("DELETE FROM plans WHERE id = $1", id);
                    } else {
                        tx.exec_params(
                            "UPDATE plans SET deleted_at = now(), active = false, "
                            "cost_plan_id = NULL WHERE id = $1",
                            id);
                    }
                    audit::record(
                        tx, c.who, c.request_id,
                        {"vm_template.delete", "vm_template", std::to_string(id), before, nullptr});
                    const auto cost_plan_id = before["cost_plan_id"].get<std::int64_t>();
                    if (!tx.exec_params("DELETE FROM cost_plans c WHERE id = $1 AND NOT EXISTS "
                                        "(SELECT 1 FROM plans p WHERE p.cost_plan_id = c.id) "
                                        "RETURNING id",
                                        cost_plan_id)
                             .empty()) {
                        audit::record(tx, c.who, c.request_id,
                                      {"cost_plan.delete", "cost_plan",
                                       std::to_string(cost_plan_id), nullptr, nullptr});
                    }
                    tx.commit();
                };
                co_await s.db.run(remove);
                co_return json_reply(admin_data(nullptr));
            });

    add_list_route(api, s, "/cost_plans", "vm_template::view", "SELECT count(*) FROM cost_plans",
                   k_cost_plan_select + "ORDER BY c.id", cost_plan_json);
    add_get_route(api, s, "/cost_plans/{id}", "vm_template::view", read_cost_plan);

    api.add(
        verb::post, "/cost_plans", access::op("vm_template::create"),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const cost_fields f = parse_cost_fields(json_body(req), "");
            if (!f.name || !f.amount || !f.currency || !f.interval_amount || !f.interval_type) {
                throw bad_request(
                    "name, amount, currency, interval_amount and interval_type are required");
            }
            auto create = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const auto id = insert_cost_plan(tx, f);
                const json plan = read_cost_plan(tx, id);
                audit::record(tx, c.who, c.request_id,
                              {"cost_plan.create", "cost_plan", std::to_string(id), nullptr, plan});
                tx.commit();
                return plan;
            };
            const json plan = co_await s.db.run(create);
            co_return json_reply(admin_data(plan), http::status::created);
        });

    api.add(
        verb::patch, "/cost_plans/{id}", access::op("vm_template::update"),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const auto id = id_param(p, "id");
            const cost_fields f = parse_cost_fields(json_body(req), "");
            auto update = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const json before = read_cost_plan(tx, id);
                update_cost_plan(tx, id, f);
                const json after = read_cost_plan(tx, id);
                audit::record(tx, c.who, c.request_id,
                              {"cost_plan.update", "cost_plan", std::to_string(id), before, after});
                tx.commit();
                return after;
            };
            const json plan = co_await s.db.run(update);
            co_return json_reply(admin_data(plan));
        });

    api.add(verb::delete_, "/cost_plans/{id}", access::op("vm_template::delete"),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const auto id = id_param(p, "id");
                auto remove = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    tx.exec_params("SELECT 1 FROM cost_plans WHERE id = $1 FOR UPDATE", id);
                    const json before = read_cost_plan(tx, id);
                    const auto in_use = before["template_count"].get<std::int64_t>();
                    if (in_use > 0) {
                        throw conflict("cost_plan_in_use", "the cost plan is used by " +
                                                               std::to_string(in_use) +
                                                               " VM template(s)");
                    }
                    tx.exec_params("DELETE FROM cost_plans WHERE id = $1", id);
                    audit::record(
                        tx, c.who, c.request_id,
                        {"cost_plan.delete", "cost_plan", std::to_string(id), before, nullptr});
                    tx.commit();
                };
                co_await s.db.run(remove);
                co_return json_reply(admin_data(nullptr));
            });
}

}  // namespace vpsfleet::api::admin
