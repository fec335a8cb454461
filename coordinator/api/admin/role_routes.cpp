#include "coordinator/api/admin/role_routes.hpp"

#include "coordinator/api/admin/read_routes.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/auth/rbac.hpp"
#include "coordinator/store/sql.hpp"

#include <charconv>

namespace vpsfleet::api::admin {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

const std::string k_role_columns =
    "r.id, r.name, r.description, r.is_system_role, r.permissions, "
    "(SELECT count(*) FROM user_roles x WHERE x.role_id = r.id), " +
    store::iso8601("r.created_at") + ", " + store::iso8601("r.updated_at");
const std::string k_role_select = "SELECT " + k_role_columns + " FROM roles r ";

json role_json(const pqxx::row& r) {
    json permissions = json::array();
    auto array = r[4].as_array();
    for (auto elem = array.get_next(); elem.first != pqxx::array_parser::done;
         elem = array.get_next()) {
        if (elem.first == pqxx::array_parser::string_value) permissions.push_back(elem.second);
    }
    return {{"id", r[0].as<std::int64_t>()},
            {"name", r[1].as<std::string>()},
            {"description", r[2].is_null() ? json(nullptr) : json(r[2].as<std::string>())},
            {"is_system_role", r[3].as<bool>()},
            {"permissions", permissions},
            {"user_count", r[5].as<std::int64_t>()},
            {"created_at", r[6].as<std::string>()},
            {"updated_at", r[7].as<std::string>()}};
}

json read_role(pqxx::work& tx, std::int64_t id) {
    return read_one(tx, k_role_select + "WHERE r.id = $1", id, "role_not_found", "role not found",
                    role_json);
}

// The permissions array of a body, each checked for the resource::action form.
std::optional<std::vector<std::string>> permissions_field(const json& body) {
    const auto it = body.find("permissions");
    if (it == body.end() || it->is_null()) return std::nullopt;
    if (!it->is_array()) throw bad_request("permissions must be an array of strings");
    std::vector<std::string> out;
    for (const auto& p : *it) {
        if (!p.is_string() || !auth::valid_permission(p.get<std::string>())) {
            throw bad_request("invalid permission " + p.dump() + "; expected resource::action");
        }
        out.push_back(p.get<std::string>());
    }
    return out;
}

// PostgreSQL text[] literal for a parameter.
std::string pg_array(const std::vector<std::string>& items) {
    std::string out = "{";
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (i) out += ',';
        out += '"' + items[i] + '"';  // valid permissions hold no quotes or backslashes
    }
    return out + "}";
}

json user_roles(pqxx::work& tx, std::int64_t user_id) {
    json out = json::array();
    for (const auto& r : tx.exec_params(
             "SELECT " + k_role_columns + ", ur.assigned_by, " + store::iso8601("ur.assigned_at") +
                 ", " + store::iso8601("ur.expires_at") +
                 ", ur.expires_at IS NULL OR ur.expires_at > now() "
                 "FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = $1 "
                 "ORDER BY r.id",
             user_id)) {
        out.push_back(
            {{"role", role_json(r)},
             {"assigned_by", r[8].is_null() ? json(nullptr) : json(r[8].as<std::int64_t>())},
             {"assigned_at", r[9].as<std::string>()},
             {"expires_at", r[10].is_null() ? json(nullptr) : json(r[10].as<std::string>())},
             {"is_active", r[11].as<bool>()}});
    }
    return out;
}

void require_user(pqxx::work& tx, std::int64_t user_id) {
    if (tx.exec_params("SELECT 1 FROM users WHERE id = $1", user_id).empty()) {
        throw not_found("user_not_found", "user not found");
    }
}

}  // namespace

std::int64_t id_param(const path_params& params, const std::string& name) {
    const std::string& text = params.at(name);
    std::int64_t value = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc{} || ptr != text.data() + text.size() || value <= 0) {
        throw bad_request(name + " must be a positive integer");
    }
    return value;
}

void add_role_routes(endpoints& api, services& s) {
    add_list_route(
        api, s, "/roles", "roles::view", "SELECT count(*) FROM roles",
        [](pqxx::work& tx, const page_request& page) {
            json items = json::array();
            for (const auto& r : tx.exec_params(k_role_select + "ORDER BY r.id LIMIT $1 OFFSET $2",
                                                page.limit, page.offset)) {
                items.push_back(role_json(r));
            }
            return items;
        });
    add_get_route(api, s, "/roles/{id}", "roles::view", read_role);

    api.add(
        verb::post, "/roles", access::op("roles::create"),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const json body = json_body(req);
            const std::string name = required_string(body, "name");
            if (name.empty() || name.size() > 64) throw bad_request("name must be 1-64 characters");
            const auto description = optional_string(body, "description");
            const auto permissions = permissions_field(body).value_or(std::vector<std::string>{});
            auto create = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const auto rows = tx.exec_params(
                    "INSERT INTO roles (name, description, permissions) "
                    "VALUES ($1, $2, $3::text[]) ON CONFLICT DO NOTHING RETURNING id",
                    name, description, pg_array(permissions));
                if (rows.empty()) throw conflict("role_exists", "a role with this name exists");
                const json role = read_role(tx, rows[0][0].as<std::int64_t>());
                audit::record(tx, c.who, c.request_id,
                              {"role.create", "role", role["id"].dump(), nullptr, role});
                tx.commit();
                return role;
            };
            const json role = co_await s.db.run(create);
            co_return json_reply(admin_data(role), http::status::created);
        });

    api.add(
        verb::patch, "/roles/{id}", access::op("roles::update"),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const auto id = id_param(p, "id");
            const json body = json_body(req);
            const auto name = optional_string(body, "name");
            if (name && (name->empty() || name->size() > 64)) {
                throw bad_request("name must be 1-64 characters");
            }
            const auto description = optional_string(body, "description");
            const auto permissions = permissions_field(body);
            std::optional<std::string> array;
            if (permissions) array = pg_array(*permissions);
            auto update = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const json before = read_role(tx, id);
                if (before["is_system_role"].get<bool>()) {
                    throw forbidden("system_role", "system roles cannot be changed");
                }
                try {
                    tx.exec_params(
                        "UPDATE roles SET name = COALESCE($2, name), "
                        "description = COALESCE($3, description), "
                        "permissions = COALESCE($4::text[], permissions), updated_at = now() "
                        "WHERE id = $1",
                        id, name, description, array);
                } catch (const pqxx::unique_violation&) {
                    throw conflict("role_exists", "a role with this name exists");
                }
                const json after = read_role(tx, id);
                audit::record(tx, c.who, c.request_id,
                              {"role.update", "role", std::to_string(id), before, after});
                tx.commit();
                return after;
            };
            const json role = co_await s.db.run(update);
            co_return json_reply(admin_data(role));
        });

    api.add(verb::delete_, "/roles/{id}", access::op("roles::delete"),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const auto id = id_param(p, "id");
                auto remove = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    const json before = read_role(tx, id);
                    if (before["is_system_role"].get<bool>()) {
                        throw forbidden("system_role", "system roles cannot be deleted");
                    }
                    tx.exec_params("DELETE FROM roles WHERE id = $1", id);
                    audit::record(tx, c.who, c.request_id,
                                  {"role.delete", "role", std::to_string(id), before, nullptr});
                    tx.commit();
                };
                co_await s.db.run(remove);
                co_return json_reply(admin_data(nullptr));
            });

    api.add(verb::get, "/users/{user_id}/roles", access::op("users::view"),
            [&s](http::request&, const path_params& p, call&) -> asio::awaitable<http::response> {
                const auto user_id = id_param(p, "user_id");
                auto read = [user_id](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    require_user(tx, user_id);
                    return user_roles(tx, user_id);
                };
                const json roles = co_await s.db.run(read);
                co_return json_reply(admin_data(roles));
            });

    api.add(
        verb::post, "/users/{user_id}/roles", access::op("users::update"),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const auto user_id = id_param(p, "user_id");
            const auto role_id = optional_int(json_body(req), "role_id");
            if (!role_id || *role_id <= 0) throw bad_request("role_id is required");
            auto assign = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                require_user(tx, user_id);
                const json role = read_role(tx, *role_id);
                tx.exec_params(
                    "INSERT INTO user_roles (user_id, role_id, assigned_by) VALUES ($1, $2, $3) "
                    "ON CONFLICT (user_id, role_id) DO UPDATE SET expires_at = NULL",
                    user_id, *role_id, c.who.user_id);
                audit::record(tx, c.who, c.request_id,
                              {"user.role_assign", "user", std::to_string(user_id), nullptr,
                               json{{"role_id", *role_id}, {"role", role["name"]}}});
                tx.commit();
            };
            co_await s.db.run(assign);
            co_return json_reply(admin_data(nullptr));
        });

    api.add(verb::delete_, "/users/{user_id}/roles/{role_id}", access::op("users::update"),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const auto user_id = id_param(p, "user_id");
                const auto role_id = id_param(p, "role_id");
                auto revoke = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    if (tx.exec_params("DELETE FROM user_roles WHERE user_id = $1 AND role_id = $2 "
                                       "RETURNING 1",
                                       user_id, role_id)
                            .empty()) {
                        throw not_found("assignment_not_found", "the user does not have this role");
                    }
                    audit::record(tx, c.who, c.request_id,
                                  {"user.role_revoke", "user", std::to_string(user_id),
                                   json{{"role_id", role_id}}, nullptr});
                    tx.commit();
                };
                co_await s.db.run(revoke);
                co_return json_reply(admin_data(nullptr));
            });

    api.add(verb::get, "/me/roles", access::op(""),
            [&s](http::request&, const path_params&, call& c) -> asio::awaitable<http::response> {
                const std::int64_t user_id = c.who.user_id;
                auto read = [user_id](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    return user_roles(tx, user_id);
                };
                const json roles = co_await s.db.run(read);
                co_return json_reply(admin_data(roles));
            });
}

}  // namespace vpsfleet::api::admin
