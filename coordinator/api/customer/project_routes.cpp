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

// $1 is the caller's user id: their role, and which projects they may see, depend on it.
const std::string k_project_select =
    "SELECT p.uid, p.name, " + store::iso8601("p.created_at") +
    ", CASE WHEN p.owner_user_id = $1 THEN 'owner' ELSE 'member' END, "
    "(SELECT count(*) FROM instances i WHERE i.project_id = p.id AND i.deleted_at IS NULL), "
    "1 + (SELECT count(*) FROM project_members m WHERE m.project_id = p.id) "
    "FROM projects p ";

json project_json(const pqxx::row& r) {
    return {{"uid", r[0].as<std::string>()},
            {"name", r[1].as<std::string>()},
            {"category", "business"},
            {"role", r[3].as<std::string>()},
            {"instanceCount", r[4].as<std::int64_t>()},
            {"memberCount", r[5].as<std::int64_t>()},
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

// The document's integer mask, or a list of names ("READ_VPS", ...) for people writing by hand.
std::optional<std::uint64_t> optional_permissions(const json& body) {
    const auto it = body.find("permissions");
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (it->is_number_unsigned() && it->get<std::uint64_t>() <= auth::permission::all) {
        return it->get<std::uint64_t>();
    }
    if (!it->is_array()) {
        throw bad_request(
            "permissions must be an integer from 0 to 2147483647 or a list of permission names",
            {{"field", "permissions"}});
    }
    std::uint64_t bits = 0;
    json unknown = json::array();
    for (const auto& name : *it) {
        const auto bit =
            name.is_string() ? auth::permission_bit(name.get<std::string>()) : std::nullopt;
        if (bit) {
            bits |= *bit;
        } else {
            unknown.push_back(name);
        }
    }
    if (!unknown.empty()) {
        throw bad_request("unknown permission " + unknown.dump() +
                              "; known: READ_VPS, VPS_CONTROL, VPS_DELETE, ORDER_PRODUCT, "
                              "READ_COLOCATION, WRITE_MEMBERS, READ_API, WRITE_API, WRITE_SETTINGS",
                          {{"field", "permissions"}, {"unknown", unknown}});
    }
    return bits;
}

// A key can hand out at most what it holds itself.
void check_grantable(const call& c, std::uint64_t permissions) {
    if (c.who.type == auth::principal::kind::api_key && (permissions & ~c.who.key_permissions)) {
        throw forbidden("missing_permission", "A key cannot grant permissions it does not hold");
    }
}

std::optional<std::string> optional_key_name(const json& body) {
    auto name = optional_string(body, "name");
    if (name && (name->empty() || name->size() > 64)) {
        throw bad_request("name must be 1-64 characters", {{"field", "name"}});
    }
    return name;
}

std::string trimmed(std::string s) {
    const auto first = s.find_first_not_of(" \t\r\n");
    if (first == std::string::npos) return {};
    return s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1);
}

}  // namespace

std::int64_t resolve_project(pqxx::work& tx, const call& c, const std::string& project_uid) {
    if (c.who.type == auth::principal::kind::api_key) {
        const auto rows = tx.exec_params("SELECT id FROM projects WHERE uid = $1", project_uid);
        if (rows.empty() || rows[0][0].as<std::int64_t>() != c.who.project_id) {
            throw not_found("project_not_found", "Project not found");
        }
        return c.who.project_id;
    }
    const auto rows = tx.exec_params(
        "SELECT p.id, p.owner_user_id = $2, m.user_id IS NOT NULL FROM projects p "
        "LEFT JOIN project_members m ON m.project_id = p.id AND m.user_id = $2 "
        "WHERE p.uid = $1",
        project_uid, c.who.user_id);
    if (rows.empty() || (!rows[0][1].as<bool>() && !rows[0][2].as<bool>())) {
        throw not_found("project_not_found", "Project not found");
    }
    if (!rows[0][1].as<bool>()) {
        if (const auto missing = c.route_permission & ~auth::permission::member; missing != 0) {
            throw forbidden("missing_permission", "Project members lack the " +
                                                      auth::permission_name(missing) +
                                                      " permission; the project's owner has it");
        }
    }
    return rows[0][0].as<std::int64_t>();
}

void add_project_routes(endpoints& api, services& s) {
    api.add(verb::get, "/projects", access::signed_in(),
            [&s](http::request&, const path_params&, call& c) -> asio::awaitable<http::response> {
                auto list = [&c](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    json out = json::array();
                    // A key sees its own project; a user the projects they own or are a
                    // member of.
                    const auto rows =
                        c.who.type == auth::principal::kind::api_key
                            ? tx.exec_params(k_project_select + "WHERE p.id = $2", c.who.user_id,
                                             c.who.project_id)
                            : tx.exec_params(k_project_select +
                                                 "WHERE p.owner_user_id = $1 OR EXISTS (SELECT 1 "
                                                 "FROM project_members m WHERE m.project_id = "
                                                 "p.id AND m.user_id = $1) ORDER BY p.id",
                                             c.who.user_id);
                    for (const auto& r : rows) {
                        out.push_back(project_json(r));
                    }
                    return out;
                };
                const json projects = co_await s.db.run(list);
                co_return json_reply(projects);
            });

    api.add(
        verb::post, "/projects", access::account_holder(),
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
                const json project = project_json(
                    tx.exec_params1(k_project_select + "WHERE p.uid = $2", c.who.user_id, uid));
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
                    return project_json(
                        tx.exec_params1(k_project_select + "WHERE p.id = $2", c.who.user_id, id));
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
            const auto name = optional_key_name(body);
            if (!name) throw bad_request("name is required", {{"field", "name"}});
            const auto permissions = optional_permissions(body).value_or(auth::permission::all);
            check_grantable(c, permissions);
            const std::string uid = p.at("project");
            auto create = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const auto project_id = resolve_project(tx, c, uid);
                auto created =
                    auth::create_api_key(tx, project_id, c.who.user_id, *name, permissions);
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

    // Not in the document, which can only revoke a key: changing what a key may do (or its
    // name) without handing out a new secret. Takes effect with the key's next request.
    api.add(
        verb::patch, "/projects/{project}/api-keys/{key}", access::key(auth::permission::write_api),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const json body = json_body(req);
            const auth::api_key_change change{optional_key_name(body), optional_permissions(body)};
            if (!change.name && !change.permissions) {
                throw bad_request("Give the name or the permissions to change");
            }
            if (change.permissions) check_grantable(c, *change.permissions);
            const std::string project = p.at("project");
            const std::string key = p.at("key");
            auto update = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const auto updated =
                    auth::update_api_key(tx, resolve_project(tx, c, project), key, change);
                if (!updated) throw not_found("api_key_not_found", "API key not found");
                json out = key_json(updated->after);
                audit::record(tx, c.who, c.request_id,
                              {"api_key.update", "api_key", key, key_json(updated->before), out});
                tx.commit();
                return out;
            };
            const json out = co_await s.db.run(update);
            co_return json_reply(out);
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
