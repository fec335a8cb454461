#include "coordinator/api/admin/project_ip_range_routes.hpp"

#include "coordinator/api/admin/fields.hpp"
#include "coordinator/api/admin/read_routes.hpp"
#include "coordinator/api/admin/role_routes.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/ipam/address.hpp"
#include "coordinator/store/sql.hpp"

#include "common/secrets.hpp"

namespace vpsfleet::api::admin {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

const std::string k_select =
    "SELECT r.id, r.uid, r.project_id, p.uid, r.cidr::text, "
    "family(r.cidr), r.description, r.source, " +
    store::iso8601("r.created_at") +
    " FROM project_ip_ranges r JOIN projects p ON p.id = r.project_id ";

json range_json(const pqxx::row& r) {
    return {{"id", r[0].as<std::int64_t>()},         {"uid", r[1].as<std::string>()},
            {"project_id", r[2].as<std::int64_t>()}, {"project_uid", r[3].as<std::string>()},
            {"cidr", r[4].as<std::string>()},        {"family", r[5].as<int>()},
            {"description", r[6].as<std::string>()}, {"source", r[7].as<std::string>()},
            {"created", r[8].as<std::string>()}};
}

json read_range(pqxx::work& tx, std::int64_t id) {
    return read_one(tx, k_select + "WHERE r.id = $1", id, "project_ip_range_not_found",
                    "project IP range not found", range_json);
}

}  // namespace

void add_project_ip_range_routes(endpoints& api, services& s) {
    api.add(verb::get, "/project_ip_ranges", access::op("ip_range::view"),
            [&s](http::request& req, const path_params&, call&) -> asio::awaitable<http::response> {
                const auto page = page_params(req);
                const auto project = query_id(req, "project_id");
                auto list = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    const std::string where = "WHERE ($1::bigint IS NULL OR r.project_id = $1) ";
                    json items = json::array();
                    for (const auto& r :
                         tx.exec_params(k_select + where + "ORDER BY r.id LIMIT $2 OFFSET $3",
                                        project, page.limit, page.offset)) {
                        items.push_back(range_json(r));
                    }
                    const auto total =
                        tx.exec_params1("SELECT count(*) FROM project_ip_ranges r " + where,
                                        project)[0]
                            .as<std::int64_t>();
                    return json{{"data", items},
                                {"total", total},
                                {"limit", page.limit},
                                {"offset", page.offset}};
                };
                const json out = co_await s.db.run(list);
                co_return json_reply(out);
            });
    add_get_route(api, s, "/project_ip_ranges/{id}", "ip_range::view", read_range);

    api.add(
        verb::post, "/project_ip_ranges", access::op("ip_range::create"),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const json body = json_body(req);
            const auto project_id = optional_int(body, "project_id");
            if (!project_id) throw bad_request("project_id is required");
            const std::string cidr_text = required_string(body, "cidr");
            const auto cidr = ipam::parse_cidr(cidr_text);
            if (!cidr) {
                throw bad_request(
                    "cidr must be a prefix such as 185.246.88.0/24 with no host "
                    "bits set, got '" +
                    cidr_text + "'");
            }
            const auto source = one_of(body, "source", {"colocation", "transit"});
            if (!source) throw bad_request("source is required: colocation or transit");
            const auto description = bounded_string(body, "description", 0, 200);
            auto create = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                if (tx.exec_params("SELECT 1 FROM projects WHERE id = $1", *project_id).empty()) {
                    throw not_found("project_not_found",
                                    "project " + std::to_string(*project_id) + " not found");
                }
                const auto clash = tx.exec_params(
                    "SELECT cidr::text, project_id FROM project_ip_ranges WHERE cidr && $1::cidr "
                    "LIMIT 1",
                    ipam::to_string(*cidr));
                if (!clash.empty()) {
                    throw conflict("range_overlaps", ipam::to_string(*cidr) + " overlaps " +
                                                         clash[0][0].as<std::string>() +
                                                         " of project " +
                                                         clash[0][1].as<std::string>());
                }
                const auto id = tx.exec_params1(
                                      "INSERT INTO project_ip_ranges (uid, project_id, cidr, "
                                      "description, source) VALUES ($1, $2, $3::cidr, $4, $5) "
                                      "RETURNING id",
                                      secrets::random_token("ipr_", 8), *project_id,
                                      ipam::to_string(*cidr), description.value_or(""), *source)[0]
                                    .as<std::int64_t>();
                const json range = read_range(tx, id);
                audit::record(tx, c.who, c.request_id,
                              {"project_ip_range.create", "project_ip_range", std::to_string(id),
                               nullptr, range});
                tx.commit();
                return range;
            };
            const json range = co_await s.db.run(create);
            co_return json_reply(admin_data(range), http::status::created);
        });

    api.add(verb::delete_, "/project_ip_ranges/{id}", access::op("ip_range::delete"),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const auto id = id_param(p, "id");
                auto remove = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    const json before = read_range(tx, id);
                    tx.exec_params("DELETE FROM project_ip_ranges WHERE id = $1", id);
                    audit::record(tx, c.who, c.request_id,
                                  {"project_ip_range.delete", "project_ip_range",
                                   std::to_string(id), before, nullptr});
                    tx.commit();
                };
                co_await s.db.run(remove);
                co_return json_reply(admin_data(nullptr));
            });
}

}  // namespace vpsfleet::api::admin
