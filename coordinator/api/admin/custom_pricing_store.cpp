#include "coordinator/api/admin/custom_pricing_store.hpp"

#include "coordinator/api/admin/fields.hpp"
#include "coordinator/api/admin/read_routes.hpp"
#include "coordinator/api/shapes.hpp"
#include "coordinator/store/sql.hpp"

namespace vpsfleet::api::admin {

using json = nlohmann::json;

namespace {

const std::string k_pricing_select =
    "SELECT c.id, c.name, c.enabled, " + store::iso8601("c.created_at") + ", " +
    store::iso8601("c.expires_at") +
    ", c.region_id, g.name, c.currency, c.cpu_cost, c.memory_cost, c.ip4_cost, c.ip6_cost, "
    "c.min_cpu, c.max_cpu, c.min_memory, c.max_memory, "
    "(SELECT COALESCE(json_agg(json_build_object('id', d.id, 'kind', d.kind, "
    "   'interface', d.interface, 'cost', d.cost, 'min_disk_size', d.min_disk_size, "
    "   'max_disk_size', d.max_disk_size) ORDER BY d.id), '[]') "
    " FROM custom_pricing_disk d WHERE d.pricing_id = c.id), "
    "(SELECT count(*) FROM custom_templates t WHERE t.pricing_id = c.id) "
    "FROM custom_pricing c JOIN regions g ON g.id = c.region_id ";

const std::string k_pricing_filter =
    "WHERE ($1::bigint IS NULL OR c.region_id = $1) AND ($2::boolean IS NULL OR c.enabled = $2) ";

json pricing_json(const pqxx::row& r) {
    return {{"id", r[0].as<std::int64_t>()},
            {"name", r[1].as<std::string>()},
            {"enabled", r[2].as<bool>()},
            {"created", r[3].as<std::string>()},
            {"expires", text_or_null(r[4])},
            {"region_id", r[5].as<std::int64_t>()},
            {"region_name", text_or_null(r[6])},
            {"currency", r[7].as<std::string>()},
            {"cpu_cost", r[8].as<std::int64_t>()},
            {"memory_cost", r[9].as<std::int64_t>()},
            {"ip4_cost", r[10].as<std::int64_t>()},
            {"ip6_cost", r[11].as<std::int64_t>()},
            {"min_cpu", r[12].as<std::int64_t>()},
            {"max_cpu", r[13].as<std::int64_t>()},
            {"min_memory", r[14].as<std::int64_t>()},
            {"max_memory", r[15].as<std::int64_t>()},
            {"disk_pricing", json::parse(r[16].c_str())},
            {"template_count", r[17].as<std::int64_t>()}};
}

const std::string k_template_select =
    "SELECT t.id, t.cpu, t.memory, t.disk_size, t.disk_type, t.disk_interface, t.pricing_id, "
    "c.name, c.region_id, g.name, c.currency, "
    "(SELECT count(*) FROM instances i WHERE i.custom_template_id = t.id "
    "   AND i.deleted_at IS NULL) "
    "FROM custom_templates t JOIN custom_pricing c ON c.id = t.pricing_id "
    "JOIN regions g ON g.id = c.region_id ";

// Without calculated_cost, which needs the model.
json template_json(const pqxx::row& r) {
    return {{"id", r[0].as<std::int64_t>()},         {"cpu", r[1].as<std::int64_t>()},
            {"memory", r[2].as<std::int64_t>()},     {"disk_size", r[3].as<std::int64_t>()},
            {"disk_type", r[4].as<std::string>()},   {"disk_interface", r[5].as<std::string>()},
            {"pricing_id", r[6].as<std::int64_t>()}, {"pricing_name", text_or_null(r[7])},
            {"region_id", r[8].as<std::int64_t>()},  {"region_name", text_or_null(r[9])},
            {"currency", r[10].as<std::string>()},   {"vm_count", r[11].as<std::int64_t>()}};
}

json priced(json info, const billing::custom_model& model) {
    info["calculated_cost"] = price_json(model, config_of(info));
    return info;
}

}  // namespace

json read_pricing(pqxx::work& tx, std::int64_t id) {
    return read_one(tx, k_pricing_select + "WHERE c.id = $1", id, "custom_pricing_not_found",
                    "custom pricing model not found", pricing_json);
}

json list_pricing(pqxx::work& tx, std::optional<std::int64_t> region_id,
                  std::optional<bool> enabled, const page_request& page) {
    json items = json::array();
    for (const auto& r :
         tx.exec_params(k_pricing_select + k_pricing_filter + "ORDER BY c.id LIMIT $3 OFFSET $4",
                        region_id, enabled, page.limit, page.offset)) {
        items.push_back(pricing_json(r));
    }
    const auto total = tx.exec_params1("SELECT count(*) FROM custom_pricing c " + k_pricing_filter,
                                       region_id, enabled)[0]
                           .as<std::int64_t>();
    return admin_page(std::move(items), total, page.limit, page.offset);
}

billing::custom_model model_of(const json& p) {
    billing::custom_model m;
    m.currency = p["currency"].get<std::string>();
    m.cpu_cost = p["cpu_cost"].get<std::int64_t>();
    m.memory_cost = p["memory_cost"].get<std::int64_t>();
    m.ip4_cost = p["ip4_cost"].get<std::int64_t>();
    m.ip6_cost = p["ip6_cost"].get<std::int64_t>();
    m.min_cpu = p["min_cpu"].get<std::int64_t>();
    m.max_cpu = p["max_cpu"].get<std::int64_t>();
    m.min_memory = p["min_memory"].get<std::int64_t>();
    m.max_memory = p["max_memory"].get<std::int64_t>();
    for (const auto& d : p["disk_pricing"]) {
        m.disks.push_back({d["kind"].get<std::string>(), d["interface"].get<std::string>(),
                           d["cost"].get<std::int64_t>(), d["min_disk_size"].get<std::int64_t>(),
                           d["max_disk_size"].get<std::int64_t>()});
    }
    return m;
}

json read_template(pqxx::work& tx, std::int64_t id) {
    const json info =
        read_one(tx, k_template_select + "WHERE t.id = $1", id, "custom_template_not_found",
                 "custom template not found", template_json);
    return priced(info, model_of(read_pricing(tx, info["pricing_id"].get<std::int64_t>())));
}

json list_templates(pqxx::work& tx, std::int64_t pricing_id, const page_request& page) {
    const auto model = model_of(read_pricing(tx, pricing_id));
    json items = json::array();
    for (const auto& r :
         tx.exec_params(k_template_select + "WHERE t.pricing_id = $1 ORDER BY t.id LIMIT $2 "
                                            "OFFSET $3",
                        pricing_id, page.limit, page.offset)) {
        items.push_back(priced(template_json(r), model));
    }
    const auto total =
        tx.exec_params1("SELECT count(*) FROM custom_templates WHERE pricing_id = $1",
                        pricing_id)[0]
            .as<std::int64_t>();
    return admin_page(std::move(items), total, page.limit, page.offset);
}

billing::custom_config config_of(const json& t) {
    return {t["cpu"].get<std::int64_t>(),
            t["memory"].get<std::int64_t>(),
            t["disk_size"].get<std::int64_t>(),
            t["disk_type"].get<std::string>(),
            t["disk_interface"].get<std::string>(),
            1,
            1};
}

json price_json(const billing::custom_model& model, const billing::custom_config& config) {
    const auto price = billing::monthly_price(model, config);
    if (!price) return nullptr;
    return {{"cpu_cost", price->cpu_cost},   {"memory_cost", price->memory_cost},
            {"disk_cost", price->disk_cost}, {"ip4_cost", price->ip4_cost},
            {"ip6_cost", price->ip6_cost},   {"total_monthly_cost", price->total_monthly_cost}};
}

}  // namespace vpsfleet::api::admin
