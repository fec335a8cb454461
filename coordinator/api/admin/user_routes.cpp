// /users in LNVPS shapes (AdminUserInfo): list with search, get, update.
#include "common/ascii_case.hpp"
#include "coordinator/api/admin/business_routes.hpp"
#include "coordinator/api/admin/fields.hpp"
#include "coordinator/api/admin/read_routes.hpp"
#include "coordinator/api/admin/role_routes.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/auth/sessions.hpp"
#include "coordinator/instances/expiry_sweep.hpp"
#include "coordinator/store/sql.hpp"

#include <algorithm>
#include <regex>
#include <utility>
#include <vector>

namespace vpsfleet::api::admin {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

// last_login: when the newest session (a refresh-token family, opened by a sign-in) began.
// is_admin: the account holds an operator role (or is the bootstrap operator).
const std::string k_user_select =
    "SELECT u.id, u.pubkey, " + store::iso8601("u.created_at") +
    ", u.email, u.contact_nip17, u.contact_email, u.country, u.billing_name, "
    "u.billing_address_1, u.billing_address_2, u.billing_city, u.billing_state, "
    "u.billing_postcode, u.billing_tax_id, "
    "(SELECT count(*) FROM instances i JOIN projects p ON p.id = i.project_id "
    "  WHERE p.owner_user_id = u.id AND i.deleted_at IS NULL), " +
    store::iso8601(
        "(SELECT max(f.opened) FROM (SELECT min(t.created_at) AS opened FROM refresh_tokens t "
        "  WHERE t.user_id = u.id GROUP BY t.family) f)") +
    ", u.is_admin OR EXISTS (SELECT 1 FROM user_roles ur WHERE ur.user_id = u.id "
    "  AND (ur.expires_at IS NULL OR ur.expires_at > now())), u.status "
    "FROM users u ";

// search: a Nostr pubkey (hex), or a part of the email address.
const std::string k_user_filter =
    "WHERE ($1::text IS NULL OR u.pubkey = lower($1) OR strpos(lower(u.email), "
    "lower($1)) > 0) ";

// The account's Nostr key is "" until it has one (LNVPS accounts always do).
json user_json(const pqxx::row& r) {
    return {{"id", r[0].as<std::int64_t>()},
            {"pubkey", r[1].is_null() ? "" : r[1].as<std::string>()},
            {"created", r[2].as<std::string>()},
            {"email", text_or_null(r[3])},
            {"contact_nip17", r[4].as<bool>()},
            {"contact_email", r[5].as<bool>()},
            {"country_code", text_or_null(r[6])},
            {"billing_name", text_or_null(r[7])},
            {"billing_address_1", text_or_null(r[8])},
            {"billing_address_2", text_or_null(r[9])},
            {"billing_city", text_or_null(r[10])},
            {"billing_state", text_or_null(r[11])},
            {"billing_postcode", text_or_null(r[12])},
            {"billing_tax_id", text_or_null(r[13])},
            {"vm_count", r[14].as<std::int64_t>()},
            {"last_login", text_or_null(r[15])},
            {"is_admin", r[16].as<bool>()},
            {"status", r[17].as<std::string>()}};
}

json read_user(pqxx::work& tx, std::int64_t id) {
    return read_one(tx, k_user_select + "WHERE u.id = $1", id, "user_not_found", "user not found",
                    user_json);
}

// A checked PATCH body: each column to set (nullopt clears it) and the admin role, if given.
struct user_patch {
    std::vector<std::pair<const char*, std::optional<std::string>>> text;
    std::optional<bool> contact_nip17;
    std::optional<bool> contact_email;
    bool set_role = false;
    std::optional<std::string> role;    // nullopt with set_role: no admin role
    std::optional<std::string> status;  // AdminUserStatus: active or suspended
};

user_patch parse_patch(const json& body) {
    user_patch p;
    if (auto email = optional_string(body, "email")) {
        static const std::regex k_email(R"(^[^@\s]+@[^@\s]+\.[^@\s]+$)");
        if (email->size() > 254 || !std::regex_match(*email, k_email)) {
            throw bad_request("email is not a valid email address", {{"field", "email"}});
        }
        p.text.emplace_back("email", ascii_lower(*email));
    }
    p.contact_nip17 = optional_bool(body, "contact_nip17");
    p.contact_email = optional_bool(body, "contact_email");
    // An empty string clears the field.
    if (auto country = optional_string(body, "country_code")) {
        const bool letters = country->size() == 2 && std::ranges::all_of(*country, [](char c) {
                                 return std::isalpha(static_cast<unsigned char>(c));
                             });
        if (!country->empty() && !letters) {
            throw bad_request("country_code must be a 2-letter ISO 3166 code",
                              {{"field", "country_code"}});
        }
        p.text.emplace_back("country",
                            country->empty() ? std::nullopt : std::optional(ascii_upper(*country)));
    }
    for (const char* field :
         {"billing_name", "billing_address_1", "billing_address_2", "billing_city", "billing_state",
          "billing_postcode", "billing_tax_id"}) {
        if (auto value = bounded_string(body, field, 0, 200)) {
            p.text.emplace_back(field, value->empty() ? std::nullopt : std::move(value));
        }
    }
    if (body.contains("status")) p.status = one_of(body, "status", {"active", "suspended"});
    if (body.contains("admin_role")) {
        p.set_role = true;
        p.role = one_of(body, "admin_role", {"super_admin", "admin", "read_only"});
    }
    return p;
}

void apply_patch(pqxx::work& tx, std::int64_t id, const user_patch& p, std::int64_t by) {
    for (const auto& [column, value] : p.text) {
        try {
            // column comes from the fixed list in parse_patch.
            tx.exec_params(std::string("UPDATE users SET ") + column +
                               " = $2, updated_at = now() WHERE id = $1",
                           id, value);
        } catch (const pqxx::unique_violation&) {
            throw conflict("email_taken", "another account has this email");
        }
    }
    if (p.contact_email) {
        tx.exec_params("UPDATE users SET contact_email = $2 WHERE id = $1", id, *p.contact_email);
    }
    if (p.contact_nip17) {
        if (*p.contact_nip17 &&
            tx.exec_params1("SELECT pubkey IS NULL FROM users WHERE id = $1", id)[0].as<bool>()) {
            throw bad_request("contact_nip17 needs a Nostr pubkey on the account",
                              {{"field", "contact_nip17"}});
        }
        tx.exec_params("UPDATE users SET contact_nip17 = $2 WHERE id = $1", id, *p.contact_nip17);
    }
    // A suspended account signs in nowhere: its sessions end now, and its access tokens and API
    // keys are refused from the next request on (the authenticator reads the status each time).
    // Reactivating does not start its servers again: the customer or an operator does.
    if (p.status) {
        tx.exec_params("UPDATE users SET status = $2, updated_at = now() WHERE id = $1", id,
                       *p.status);
        if (*p.status == "suspended") {
            auth::close_all_sessions(tx, id);
            // ... and its servers stop now (the billing sweep stops any a busy job held back).
            instances::stop_vms_of_suspended(tx, id);
        }
    }
    if (p.set_role) {
        // The admin role is one of the system roles; other (custom) roles stay as assigned.
        tx.exec_params(
            "DELETE FROM user_roles ur USING roles r WHERE ur.role_id = r.id "
            "AND ur.user_id = $1 AND r.is_system_role",
            id);
        if (p.role) {
            tx.exec_params(
                "INSERT INTO user_roles (user_id, role_id, assigned_by) "
                "SELECT $1, id, $3 FROM roles WHERE name = $2 AND is_system_role",
                id, *p.role, by);
        }
        tx.exec_params("UPDATE users SET is_admin = $2 WHERE id = $1", id, p.role.has_value());
    }
}

}  // namespace

void add_user_routes(endpoints& api, services& s) {
    api.add(
        verb::get, "/users", access::op("users::view"),
        [&s](http::request& req, const path_params&, call&) -> asio::awaitable<http::response> {
            const auto page = page_params(req);
            auto search = query_param(req, "search");
            if (search && search->empty()) search.reset();
            if (search && search->size() > 254) {
                throw bad_request("search must be at most 254 characters", {{"field", "search"}});
            }
            auto list = [&page, &search](pqxx::connection& conn) {
                pqxx::work tx(conn);
                json items = json::array();
                for (const auto& r : tx.exec_params(
                         k_user_select + k_user_filter + "ORDER BY u.id LIMIT $2 OFFSET $3", search,
                         page.limit, page.offset)) {
                    items.push_back(user_json(r));
                }
                const auto total =
                    tx.exec_params1("SELECT count(*) FROM users u " + k_user_filter, search)[0]
                        .as<std::int64_t>();
                return admin_page(std::move(items), total, page.limit, page.offset);
            };
            const json out = co_await s.db.run(list);
            co_return json_reply(out);
        });
    add_get_route(api, s, "/users/{id}", "users::view", read_user);

    api.add(
        verb::patch, "/users/{id}", access::op("users::update"),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const auto id = id_param(p, "id");
            const user_patch patch = parse_patch(json_body(req));
            if (patch.set_role && id == c.who.user_id) {
                throw forbidden("own_admin_role", "operators cannot change their own admin_role");
            }
            if (patch.status && id == c.who.user_id) {
                throw forbidden("own_status", "operators cannot suspend themselves");
            }
            auto update = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const json before = read_user(tx, id);
                apply_patch(tx, id, patch, c.who.user_id);
                const json after = read_user(tx, id);
                json audited = after;
                if (patch.set_role) audited["admin_role"] = patch.role ? json(*patch.role) : json();
                audit::record(tx, c.who, c.request_id,
                              {"user.update", "user", std::to_string(id), before, audited});
                tx.commit();
                return after;
            };
            const json user = co_await s.db.run(update);
            co_return json_reply(admin_data(user));
        });
}

}  // namespace vpsfleet::api::admin
