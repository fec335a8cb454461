#include "coordinator/api/customer/project_routes.hpp"

#include "common/secrets.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/auth/api_keys.hpp"
#include "coordinator/store/sql.hpp"

namespace vpsfleet::api::customer {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

const std::string k_project_select =
    "SELECT p.uid, p.name, " + store::iso8601("p.created_at") +
    ", (SELECT count(*) FROM api_keys k WHERE k.project_id = p.id AND k.revoked_at IS NULL) "
    "FROM projects p ";

json project_json(const pqxx::row& r) {
    return {{"uid", r[0].as<std::string>()},
            {"name", r[1].as<std::string>()},
            {"category", "business"},
            {"role", "owner"},
            {"instanceCount", 0},
            {"memberCount", 1},
            {"createdAt", r[2].as<std::string>()}};
}

json key_json(const auth::api_key& k) {
    return {{"uid", k.uid},
            {"name", k.name},
            {"prefix", k.prefix},
            {"permissions", k.permissions},
            {"lastUsedAt", k.last_used_at ? json(*k.last_used_at) : json(nullptr)},
            {"createdAt", k.created_at}};
}

std::string trimmed(std::string s) {
    const auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return {};
    return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

}  // namespace

std::int64_t resolve_project(pqxx::work& tx, const call& c, const std::string& project_uid) {
    const auto rows =
        tx.exec_params("SELECT id, owner_user_id FROM projects WHERE uid = $1", project_uid);
    const bool visible = !rows.empty() && (c.who.type == auth::principal::kind::api_key
                                               ? rows[0][0].as<std::int64_t>() == c.who.project_id
                                               : rows[0][1].as<std::int64_t>() == c.who.user_id);
    if (!visible) throw not_found("project_not_found", "Project not found");
    return rows[0][0].as<std::int64_t>();
}

void add_project_routes(endpoints& api, services& s) {
    api.add(verb::get, "/projects", access::signed_in(),
            [&s](http::request&, const path_params&, call& c) -> asio::awaitable<http::response> {
                auto list = [&c](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    json out = json::array();
                    const bool key = c.who.type == auth::principal::kind::api_key;
                    for (const auto& r : tx.exec_params(
                             k_project_select +
                                 (key ? "WHERE p.id = $1" : "WHERE p.owner_user_id = $1") +
                                 " ORDER BY p.id",
                             key ? c.who.project_id : c.who.user_id)) {
                        out.push_back(project_json(r));
                    }
                    return out;
                };
                const json projects = co_await s.db.run(list);
                co_return json_reply(projects);
            });

    api.add(
        verb::post, "/projects", access::key(auth::permission::write_settings),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const json body = json_body(req);
            const auto given = body.find("name");
            const std::string name =
                given != body.end() && given->is_string() ? trimmed(given->get<std::string>()) : "";
            optional_string(body, "category");  // accepted and ignored, as the document says
            if (name.empty() || name.size() > 120) {
                throw api_error(http::status::bad_request, "invalid_name",
                                "name must be 1-120 characters");
            }
            auto create = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const std::string uid = secrets::random_token("prj_", 9);
                tx.exec_params(
                    "INSERT INTO projects (uid, name, owner_user_id) VALUES ($1, $2, $3)", uid,
                    name, c.who.user_id);
                const json project =
                    project_json(tx.exec_params1(k_project_select + "WHERE p.uid = $1", uid));
                audit::record(tx, c.who, c.request_id,
                              {"project.create", "project", uid, nullptr, project});
                tx.commit();
                return project;
            };
            const json project = co_await s.db.run(create);
            co_return json_reply(project, http::status::created);
        });

    api.add(verb::get, "/projects/{project}", access::signed_in(),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const std::string uid = p.at("project");
                auto read = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    const auto id = resolve_project(tx, c, uid);
                    return project_json(tx.exec_params1(k_project_select + "WHERE p.id = $1", id));
                };
                const json project = co_await s.db.run(read);
                co_return json_reply(project);
            });

    api.add(verb::get, "/projects/{project}/api-keys", access::key(auth::permission::read_api),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const std::string uid = p.at("project");
                auto list = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    json out = json::array();
                    for (const auto& k : auth::list_api_keys(tx, resolve_project(tx, c, uid))) {
                        out.push_back(key_json(k));
                    }
                    return out;
                };
                const json keys = co_await s.db.run(list);
                co_return json_reply(keys);
            });

    api.add(
        verb::post, "/projects/{project}/api-keys", access::key(auth::permission::write_api),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const json body = json_body(req);
            const std::string name = required_string(body, "name");
            if (name.empty() || name.size() > 64) {
                throw bad_request("name must be 1-64 characters", {{"field", "name"}});
            }
            const auto permissions =
                optional_int(body, "permissions").value_or(auth::permission::all);
            if (permissions < 0) {
                throw bad_request("permissions must be a non-negative integer",
                                  {{"field", "permissions"}});
            }
            // A key can hand out at most what it holds itself.
            if (c.who.type == auth::principal::kind::api_key &&
                (static_cast<std::uint64_t>(permissions) & ~c.who.key_permissions) != 0) {
                throw forbidden("missing_permission",
                                "A key cannot grant permissions it does not hold");
            }
            const std::string uid = p.at("project");
            auto create = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const auto project_id = resolve_project(tx, c, uid);
                auto created = auth::create_api_key(tx, project_id, c.who.user_id, name,
                                                    static_cast<std::uint64_t>(permissions));
                json out = key_json(created.key);
                audit::record(tx, c.who, c.request_id,
                              {"api_key.create", "api_key", created.key.uid, nullptr, out});
                out["key"] = created.secret;
                out["secret"] = created.secret;  // the name this API gave it first
                tx.commit();
                return out;
            };
            const json key = co_await s.db.run(create);
            co_return json_reply(key, http::status::created);
        });

    api.add(verb::delete_, "/projects/{project}/api-keys/{key}",
            access::key(auth::permission::write_api),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const std::string project = p.at("project");
                const std::string key = p.at("key");
                auto revoke = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    if (!auth::revoke_api_key(tx, resolve_project(tx, c, project), key)) {
                        throw not_found("api_key_not_found", "API key not found");
                    }
                    audit::record(tx, c.who, c.request_id,
                                  {"api_key.revoke", "api_key", key, nullptr, nullptr});
                    tx.commit();
                };
                co_await s.db.run(revoke);
                co_return no_content();
            });
}

}  // namespace vpsfleet::api::customer
