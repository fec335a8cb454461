#include "coordinator/api/admin/company_routes.hpp"
#include "coordinator/api/admin/fleet_routes.hpp"
#include "coordinator/api/admin/read_routes.hpp"
#include "coordinator/api/admin/role_routes.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/audit/audit_log.hpp"

namespace vpsfleet::api::admin {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

const std::string k_region_select =
    "SELECT g.id, g.name, g.enabled, g.company_id, "
    "  (SELECT count(*) FROM hosts h WHERE h.region_id = g.id), "
    "  (SELECT COALESCE(sum(c.allocations), 0) FROM hosts h JOIN host_capacity c "
    "     ON c.host_id = h.id WHERE h.region_id = g.id), "
    "  (SELECT COALESCE(sum(h.cpu), 0) FROM hosts h WHERE h.region_id = g.id), "
    "  (SELECT COALESCE(sum(h.memory), 0) FROM hosts h WHERE h.region_id = g.id), "
    "  (SELECT count(*) FROM vm_ip_assignments a JOIN ip_ranges r ON r.id = a.ip_range_id "
    "     WHERE r.region_id = g.id AND a.deleted_at IS NULL) "
    "FROM regions g ";

json region_json(const pqxx::row& r) {
    return {{"id", r[0].as<std::int64_t>()},
            {"name", r[1].as<std::string>()},
            {"enabled", r[2].as<bool>()},
            {"company_id", r[3].is_null() ? json(nullptr) : json(r[3].as<std::int64_t>())},
            {"host_count", r[4].as<std::int64_t>()},
            {"total_vms", r[5].as<std::int64_t>()},
            {"total_cpu_cores", r[6].as<std::int64_t>()},
            {"total_memory_bytes", r[7].as<std::int64_t>()},
            {"total_ip_assignments", r[8].as<std::int64_t>()}};
}

json read_region(pqxx::work& tx, std::int64_t id) {
    return read_one(tx, k_region_select + "WHERE g.id = $1", id, "region_not_found",
                    "region not found", region_json);
}

std::string region_name(const json& body, bool required) {
    const auto name =
        required ? std::optional(required_string(body, "name")) : optional_string(body, "name");
    if (name && (name->empty() || name->size() > 64)) {
        throw bad_request("name must be 1-64 characters");
    }
    return name.value_or("");
}

}  // namespace

void add_region_routes(endpoints& api, services& s) {
    add_list_route(api, s, "/regions", "hosts::view", "SELECT count(*) FROM regions",
                   k_region_select + "ORDER BY g.id", region_json);
    add_get_route(api, s, "/regions/{id}", "hosts::view", read_region);

    api.add(
        verb::post, "/regions", access::op("hosts::create"),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const json body = json_body(req);
            const std::string name = region_name(body, true);
            const auto company = optional_int(body, "company_id");
            auto create = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                require_company(tx, company);
                const auto rows = tx.exec_params(
                    "INSERT INTO regions (name, company_id) VALUES ($1, $2) "
                    "ON CONFLICT DO NOTHING RETURNING id",
                    name, company);
                if (rows.empty()) {
                    throw conflict("region_exists", "a region with this name exists");
                }
                const json region = read_region(tx, rows[0][0].as<std::int64_t>());
                audit::record(tx, c.who, c.request_id,
                              {"region.create", "region", region["id"].dump(), nullptr, region});
                tx.commit();
                return region;
            };
            const json region = co_await s.db.run(create);
            co_return json_reply(admin_data(region), http::status::created);
        });

    api.add(
        verb::patch, "/regions/{id}", access::op("hosts::update"),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const auto id = id_param(p, "id");
            const json body = json_body(req);
            const std::string name = region_name(body, false);
            const auto enabled = optional_bool(body, "enabled");
            const auto company = optional_int(body, "company_id");
            auto update = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const json before = read_region(tx, id);
                require_company(tx, company);
                try {
                    tx.exec_params(
                        "UPDATE regions SET name = COALESCE(NULLIF($2, ''), name), "
                        "enabled = COALESCE($3, enabled), "
                        "company_id = CASE WHEN $4 THEN $5 ELSE company_id END WHERE id = $1",
                        id, name, enabled, body.contains("company_id"), company);
                } catch (const pqxx::unique_violation&) {
                    throw conflict("region_exists", "a region with this name exists");
                }
                const json after = read_region(tx, id);
                audit::record(tx, c.who, c.request_id,
                              {"region.update", "region", std::to_string(id), before, after});
                tx.commit();
                return after;
            };
            const json region = co_await s.db.run(update);
            co_return json_reply(admin_data(region));
        });

    api.add(verb::delete_, "/regions/{id}", access::op("hosts::delete"),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const auto id = id_param(p, "id");
                auto remove = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    const json before = read_region(tx, id);
                    json outcome;
                    // Hosts and custom pricing models keep their region: such a region is
                    // disabled instead of deleted.
                    const bool priced =
                        !tx.exec_params("SELECT 1 FROM custom_pricing WHERE region_id = $1 LIMIT 1",
                                        id)
                             .empty();
                    if (before["host_count"].get<std::int64_t>() > 0 || priced) {
                        tx.exec_params("UPDATE regions SET enabled = false WHERE id = $1", id);
                        outcome = {{"success", true},
                                   {"message", priced && before["host_count"] == 0
                                                   ? "region has custom pricing models; it was "
                                                     "disabled instead"
                                                   : "region has hosts; it was disabled instead"}};
                    } else {
                        tx.exec_params("DELETE FROM regions WHERE id = $1", id);
                        outcome = {{"success", true}, {"message", "region deleted"}};
                    }
                    audit::record(tx, c.who, c.request_id,
                                  {"region.delete", "region", std::to_string(id), before, outcome});
                    tx.commit();
                    return outcome;
                };
                const json outcome = co_await s.db.run(remove);
                co_return json_reply(admin_data(outcome));
            });
}

}  // namespace vpsfleet::api::admin
