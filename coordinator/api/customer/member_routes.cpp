#include "coordinator/api/customer/member_routes.hpp"
#include "common/ascii_case.hpp"

#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/api/customer/project_routes.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/auth/accounts.hpp"
#include "coordinator/auth/api_keys.hpp"
#include "coordinator/store/json_fields.hpp"

#include <algorithm>
#include <cctype>
#include <optional>

namespace vpsfleet::api::customer {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

constexpr const char* k_members_path = "/projects/{project}/members";
constexpr const char* k_member_path = "/projects/{project}/members/{email}";

// Emails are matched as Suble does: trimmed and lower-cased.
std::string normalized_email(std::string_view raw) {
    const auto first = raw.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return {};
    return ascii_lower(raw.substr(first, raw.find_last_not_of(" \t\r\n") - first + 1));
}

api_error invalid(const std::string& field, const std::string& message) {
    return {http::status::bad_request, "invalid_" + field, message, {{"field", field}}};
}

std::string email_of(const json& body) {
    const auto it = body.find("email");
    if (it == body.end() || it->is_null()) throw invalid("email", "email is required");
    if (!it->is_string()) throw invalid("email", "email must be a string");
    const std::string email = normalized_email(it->get<std::string>());
    if (email.empty()) throw invalid("email", "email is required");
    if (!auth::valid_email(email)) throw invalid("email", "email is not a valid email address");
    return email;
}

// The only role a member can hold: the project has one owner, fixed at its creation.
std::string role_of(const json& body) {
    const auto it = body.find("role");
    if (it == body.end() || it->is_null()) throw invalid("role", "role is required");
    if (!it->is_string() || it->get<std::string>() != "member") {
        throw invalid("role", "role must be \"member\": a project has one owner, who keeps it");
    }
    return "member";
}

struct member {
    std::int64_t user_id = 0;
    std::string email;
    std::string role;
};

// The project's member with this email; 409 `owner_code` when it is the owner, 404 when the
// email is nobody's or not a member's.
member find_member(pqxx::work& tx, std::int64_t project_id, const std::string& email,
                   const std::string& owner_code, const std::string& owner_message) {
    const auto rows = tx.exec_params(
        "SELECT u.id, u.email, u.id = p.owner_user_id, m.role FROM projects p "
        "JOIN users u ON lower(u.email) = $2 "
        "LEFT JOIN project_members m ON m.project_id = p.id AND m.user_id = u.id "
        "WHERE p.id = $1",
        project_id, email);
    if (!rows.empty() && rows[0][2].as<bool>()) throw conflict(owner_code, owner_message);
    if (rows.empty() || rows[0][3].is_null()) {
        throw not_found("member_not_found", "No member of this project has that email");
    }
    return {rows[0][0].as<std::int64_t>(), rows[0][1].as<std::string>(),
            rows[0][3].as<std::string>()};
}

}  // namespace

void add_member_routes(endpoints& api, services& s) {
    api.add(verb::get, k_members_path, access::signed_in(),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const std::string project = p.at("project");
                auto list = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    const auto project_id = resolve_project(tx, c, project);
                    json out = json::array();
                    for (const auto& r : tx.exec_params(
                             "SELECT u.email, u.fullname, 'owner', 0 AS rank, p.created_at, u.id "
                             "FROM projects p JOIN users u ON u.id = p.owner_user_id "
                             "WHERE p.id = $1 "
                             "UNION ALL "
                             "SELECT u.email, u.fullname, m.role, 1, m.created_at, u.id "
                             "FROM project_members m JOIN users u ON u.id = m.user_id "
                             "WHERE m.project_id = $1 "
                             "ORDER BY 4, 5, 6",
                             project_id)) {
                        // Members are added directly, never invited: each one has accepted.
                        out.push_back({{"email", r[0].as<std::string>()},
                                       {"fullname", store::text_or_null(r[1])},
                                       {"role", r[2].as<std::string>()},
                                       {"status", "accepted"}});
                    }
                    return out;
                };
                const json members = co_await s.db.run(list);
                co_return json_reply(members);
            });

    api.add(
        verb::post, k_members_path, access::key(auth::permission::write_members),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const json body = json_body(req);
            const std::string email = email_of(body);
            // Suble's handler ignores a `role` here, beyond its type: every member joins as one.
            if (body.contains("role") && !body["role"].is_null() && !body["role"].is_string()) {
                throw invalid("role", "role must be a string");
            }
            const std::string role = "member";
            const std::string project = p.at("project");
            auto add = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const auto project_id = resolve_project(tx, c, project);
                const auto user = tx.exec_params(
                    "SELECT u.id, u.email, u.id = p.owner_user_id FROM users u, projects p "
                    "WHERE lower(u.email) = $1 AND u.status = 'active' AND p.id = $2",
                    email, project_id);
                if (user.empty()) throw not_found("not_found", "No active account has that email");
                const bool is_owner = user[0][2].as<bool>();
                if (is_owner ||
                    tx.exec_params("INSERT INTO project_members (project_id, user_id, role, "
                                   "invited_by) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                                   project_id, user[0][0].as<std::int64_t>(), role,
                                   c.who.user_id > 0 ? std::optional(c.who.user_id) : std::nullopt)
                            .affected_rows() == 0) {
                    throw conflict("already_member",
                                   "That user is already a member of the project");
                }
                audit::record(tx, c.who, c.request_id,
                              {"project.member_add", "project", project, nullptr,
                               json{{"email", user[0][1].as<std::string>()}, {"role", role}}});
                tx.commit();
            };
            co_await s.db.run(add);
            co_return no_content();
        });

    api.add(
        verb::patch, k_member_path, access::key(auth::permission::write_members),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const std::string role = role_of(json_body(req));
            const std::string project = p.at("project");
            const std::string email = normalized_email(path_segment(p.at("email")));
            auto update = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const auto project_id = resolve_project(tx, c, project);
                const member m = find_member(tx, project_id, email, "owner_role_fixed",
                                             "The project owner's role cannot be changed");
                tx.exec_params(
                    "UPDATE project_members SET role = $3 WHERE project_id = $1 AND user_id = $2",
                    project_id, m.user_id, role);
                audit::record(tx, c.who, c.request_id,
                              {"project.member_update", "project", project,
                               json{{"email", m.email}, {"role", m.role}},
                               json{{"email", m.email}, {"role", role}}});
                tx.commit();
            };
            co_await s.db.run(update);
            co_return no_content();
        });

    api.add(verb::delete_, k_member_path, access::key(auth::permission::write_members),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const std::string project = p.at("project");
                const std::string email = normalized_email(path_segment(p.at("email")));
                auto remove = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    const auto project_id = resolve_project(tx, c, project);
                    const member m = find_member(tx, project_id, email, "owner_not_removable",
                                                 "The project owner cannot be removed");
                    if (tx.exec_params("DELETE FROM project_members WHERE project_id = $1 AND "
                                       "user_id = $2",
                                       project_id, m.user_id)
                            .affected_rows() == 0) {
                        throw not_found("member_not_found",
                                        "No member of this project has that email");
                    }
                    audit::record(tx, c.who, c.request_id,
                                  {"project.member_remove", "project", project,
                                   json{{"email", m.email}, {"role", m.role}}, nullptr});
                    tx.commit();
                };
                co_await s.db.run(remove);
                co_return no_content();
            });
}

}  // namespace vpsfleet::api::customer
