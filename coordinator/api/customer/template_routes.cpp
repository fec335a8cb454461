#include "coordinator/api/customer/template_routes.hpp"

#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/api/customer/instance_access.hpp"
#include "coordinator/api/customer/job_routes.hpp"
#include "coordinator/api/customer/project_routes.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/auth/api_keys.hpp"
#include "coordinator/instances/template_jobs.hpp"
#include "coordinator/jobs/job_store.hpp"
#include "coordinator/store/sql.hpp"

#include <algorithm>

namespace vpsfleet::api::customer {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

const std::string k_template_select =
    "SELECT t.uid, p.uid, t.name, src.name, t.size_gb, t.min_disk_gb, t.monthly_price_ore, "
    "t.status, " +
    store::iso8601("t.created_at") +
    ", t.id FROM templates t JOIN projects p ON p.id = t.project_id "
    "LEFT JOIN instances src ON src.id = t.source_instance_id ";

// sourceInstanceName is left out for a template no instance was saved into, as Suble does.
json template_json(const pqxx::row& r) {
    json out = {
        {"uid", r[0].as<std::string>()},        {"projectUid", r[1].as<std::string>()},
        {"name", r[2].as<std::string>()},       {"sizeGb", r[4].as<std::int64_t>()},
        {"minDiskGb", r[5].as<std::int64_t>()}, {"monthlyPriceOre", r[6].as<std::int64_t>()},
        {"status", r[7].as<std::string>()},     {"createdAt", r[8].as<std::string>()}};
    if (!r[3].is_null()) out["sourceInstanceName"] = r[3].as<std::string>();
    return out;
}

// 1-64 characters (UTF-8 code points, as the column's CHECK counts them).
std::string valid_name(const json& body) {
    std::string name = required_string(body, "name");
    const auto characters = utf8_length(name);
    if (characters < 1 || characters > 64) {
        throw bad_request("name must be 1-64 characters", {{"field", "name"}});
    }
    return name;
}

// The template row, locked; 404 unless the project has it and it is not deleted.
pqxx::row live_template(pqxx::work& tx, std::int64_t project_id, const std::string& uid,
                        bool or_deleting) {
    const auto rows = tx.exec_params(
        k_template_select + "WHERE t.project_id = $1 AND t.uid = $2 AND t.status <> 'deleted' " +
            (or_deleting ? "" : "AND t.status <> 'deleting' ") + "FOR UPDATE OF t",
        project_id, uid);
    if (rows.empty()) throw not_found("template_not_found", "Template not found");
    return rows[0];
}

}  // namespace

void add_template_routes(endpoints& api, services& s) {
    api.add(verb::get, "/projects/{project}/templates", access::key(auth::permission::read_vps),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const std::string project = p.at("project");
                auto list = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    const auto project_id = resolve_project(tx, c, project);
                    json out = json::array();
                    for (const auto& r :
                         tx.exec_params(k_template_select +
                                            "WHERE t.project_id = $1 AND t.status <> 'deleted' "
                                            "ORDER BY t.id DESC",
                                        project_id)) {
                        out.push_back(template_json(r));
                    }
                    return out;
                };
                const json templates = co_await s.db.run(list);
                co_return json_reply(templates);
            });

    api.add(
        verb::patch, "/projects/{project}/templates/{template}",
        access::key(auth::permission::vps_control),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const std::string name = valid_name(json_body(req));
            const std::string project = p.at("project");
            const std::string uid = p.at("template");
            auto rename = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const auto project_id = resolve_project(tx, c, project);
                const json before = template_json(live_template(tx, project_id, uid, true));
                tx.exec_params("UPDATE templates SET name = $2 WHERE project_id = $1 AND uid = $3",
                               project_id, name, uid);
                const json after = template_json(live_template(tx, project_id, uid, true));
                audit::record(tx, c.who, c.request_id,
                              {"template.rename", "template", uid, before, after});
                tx.commit();
                return after;
            };
            const json renamed = co_await s.db.run(rename);
            co_return json_reply(renamed);
        });

    api.add(verb::delete_, "/projects/{project}/templates/{template}",
            access::key(auth::permission::vps_delete),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const std::string project = p.at("project");
                const std::string uid = p.at("template");
                auto remove = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    const auto project_id = resolve_project(tx, c, project);
                    const auto row = live_template(tx, project_id, uid, false);
                    const auto id = row[9].as<std::int64_t>();
                    if (!tx.exec_params("SELECT 1 FROM templates WHERE id = $1 AND "
                                        "backup_snapshot IS NOT NULL",
                                        id)
                             .empty()) {
                        throw conflict("template_not_deletable",
                                       "This template holds a backup snapshot; deleting those is "
                                       "not supported yet");
                    }
                    tx.exec_params("UPDATE templates SET status = 'deleting' WHERE id = $1", id);
                    const auto job =
                        jobs::enqueue(tx, jobs::new_job{.kind = instances::k_template_delete_kind,
                                                        .args = {{"template_id", id}},
                                                        .created_by_user_id = acting_user(c),
                                                        .project_id = project_id,
                                                        .target = uid,
                                                        .exclusive = true});
                    if (!job) {
                        throw conflict("operation_in_progress",
                                       "Another operation on this template is still in progress");
                    }
                    audit::record(
                        tx, c.who, c.request_id,
                        {"template.delete", "template", uid, template_json(row), nullptr});
                    json answer = accepted_job(tx, *job, instances::k_template_delete_kind);
                    tx.commit();
                    return answer;
                };
                const json job = co_await s.db.run(remove);
                co_return json_reply(job, http::status::accepted);
            });
}

}  // namespace vpsfleet::api::customer
