#include "common/secrets.hpp"
#include "coordinator/api/admin/fleet_routes.hpp"
#include "coordinator/api/admin/read_routes.hpp"
#include "coordinator/api/admin/role_routes.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/fleet/join_tokens.hpp"
#include "coordinator/store/json_fields.hpp"
#include "coordinator/store/sql.hpp"

namespace vpsfleet::api::admin {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

using store::int_or_null;
using store::text_or_null;

constexpr std::int64_t k_default_ttl = 3600;
constexpr std::int64_t k_max_ttl = 7 * 24 * 3600;

const std::string k_token_select =
    "SELECT t.id, t.region_id, g.name, " + store::iso8601("t.created_at") + ", " +
    store::iso8601("t.expires_at") + ", " + store::iso8601("t.used_at") +
    ", t.host_id, CASE WHEN t.used_at IS NOT NULL THEN 'used' "
    "WHEN t.expires_at <= now() THEN 'expired' ELSE 'active' END "
    "FROM join_tokens t JOIN regions g ON g.id = t.region_id ";

// The token itself is never stored (only its SHA-256), so it is shown once, on creation.
json token_json(const pqxx::row& r) {
    return {{"id", r[0].as<std::int64_t>()},         {"region_id", r[1].as<std::int64_t>()},
            {"region_name", r[2].as<std::string>()}, {"created", r[3].as<std::string>()},
            {"expires", r[4].as<std::string>()},     {"used_at", text_or_null(r[5])},
            {"host_id", int_or_null(r[6])},          {"state", r[7].as<std::string>()}};
}

json read_token(pqxx::work& tx, std::int64_t id) {
    return read_one(tx, k_token_select + "WHERE t.id = $1", id, "join_token_not_found",
                    "join token not found", token_json);
}

}  // namespace

void add_join_token_routes(endpoints& api, services& s) {
    add_list_route(api, s, "/join_tokens", "hosts::view", "SELECT count(*) FROM join_tokens",
                   k_token_select + "ORDER BY t.id DESC", token_json);
    add_get_route(api, s, "/join_tokens/{id}", "hosts::view", read_token);

    api.add(
        verb::post, "/join_tokens", access::op("hosts::create"),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const json body = json_body(req);
            const auto region = optional_int(body, "region_id");
            if (!region) throw bad_request("region_id is required");
            const auto ttl = optional_int(body, "ttl_seconds").value_or(k_default_ttl);
            if (ttl < 60 || ttl > k_max_ttl) {
                throw bad_request("ttl_seconds must be between 60 and " +
                                  std::to_string(k_max_ttl));
            }
            auto create = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const auto names =
                    tx.exec_params("SELECT name FROM regions WHERE id = $1 AND enabled", *region);
                if (names.empty()) {
                    throw not_found("region_not_found", "no enabled region with this id");
                }
                const auto token = fleet::create_join_token(tx, names[0][0].as<std::string>(),
                                                            std::chrono::seconds(ttl));
                const auto id = tx.exec_params1("SELECT id FROM join_tokens WHERE token_hash = $1",
                                                secrets::sha256_hex(token.token))[0]
                                    .as<std::int64_t>();
                const json shown = read_token(tx, id);
                audit::record(
                    tx, c.who, c.request_id,
                    {"join_token.create", "join_token", std::to_string(id), nullptr, shown});
                tx.commit();
                json out = shown;
                out["token"] = token.token;
                return out;
            };
            const json out = co_await s.db.run(create);
            co_return json_reply(admin_data(out), http::status::created);
        });

    // An unused token is deleted (it can no longer enroll anything); a used one is the record of
    // how its host joined and stays.
    api.add(verb::delete_, "/join_tokens/{id}", access::op("hosts::delete"),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const auto id = id_param(p, "id");
                auto revoke = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    tx.exec_params("SELECT 1 FROM join_tokens WHERE id = $1 FOR UPDATE", id);
                    const json before = read_token(tx, id);
                    if (before["state"] == "used") {
                        throw conflict("join_token_used", "the token was used to enroll host " +
                                                              before["host_id"].dump());
                    }
                    tx.exec_params("DELETE FROM join_tokens WHERE id = $1", id);
                    audit::record(
                        tx, c.who, c.request_id,
                        {"join_token.revoke", "join_token", std::to_string(id), before, nullptr});
                    tx.commit();
                };
                co_await s.db.run(revoke);
                co_return json_reply(admin_data(nullptr));
            });
}

}  // namespace vpsfleet::api::admin
