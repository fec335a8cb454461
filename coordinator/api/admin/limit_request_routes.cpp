#include "coordinator/api/admin/limit_request_routes.hpp"

#include "coordinator/api/admin/fields.hpp"
#include "coordinator/api/admin/read_routes.hpp"
#include "coordinator/api/admin/role_routes.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/limits/account_limits.hpp"
#include "coordinator/store/sql.hpp"

namespace vpsfleet::api::admin {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

// The account's own limit for the quota, if it has one (else the platform default applies).
const std::string k_select =
    "SELECT r.id, r.uid, r.user_id, r.quota_key, r.requested, o.value, r.use_case, r.status, " +
    store::iso8601("r.created_at") + ", " + store::iso8601("r.decided_at") +
    ", r.decided_by, r.note FROM limit_requests r LEFT JOIN account_limit_overrides o "
    "ON o.user_id = r.user_id AND o.quota_key = r.quota_key ";

// ?status=pending|approved|denied and ?user_id=N; absent, every request.
const std::string k_filter =
    "WHERE ($1::text IS NULL OR r.status = $1) AND ($2::bigint IS NULL OR r.user_id = $2) ";

json request_json(const pqxx::row& r, const coordinator::limits_config& defaults) {
    const auto key = r[3].as<std::string>();
    return {{"id", r[0].as<std::int64_t>()},
            {"uid", r[1].as<std::string>()},
            {"user_id", r[2].as<std::int64_t>()},
            {"quota_key", key},
            {"requested", r[4].as<std::int64_t>()},
            {"current_limit",
             r[5].is_null() ? limits::default_limit(defaults, key) : r[5].as<std::int64_t>()},
            {"use_case", r[6].as<std::string>()},
            {"status", r[7].as<std::string>()},
            {"created", r[8].as<std::string>()},
            {"decided", text_or_null(r[9])},
            {"decided_by", int_or_null(r[10])},
            {"note", text_or_null(r[11])}};
}

json read_request(pqxx::work& tx, const coordinator::limits_config& defaults, std::int64_t id) {
    const auto rows = tx.exec_params(k_select + "WHERE r.id = $1", id);
    if (rows.empty()) throw not_found("limit_request_not_found", "limit request not found");
    return request_json(rows[0], defaults);
}

std::optional<std::string> status_filter(const http::request& req) {
    auto status = query_param(req, "status");
    if (status && status->empty()) status.reset();
    if (status && *status != "pending" && *status != "approved" && *status != "denied") {
        throw bad_request("status must be pending, approved or denied");
    }
    return status;
}

// Approves (writing the account's limit) or denies a pending request, audited.
json decide(pqxx::work& tx, const services& s, const call& c, std::int64_t id, bool approve,
            const std::optional<std::string>& note) {
    const auto rows = tx.exec_params(
        "SELECT status, user_id, quota_key, requested FROM limit_requests WHERE id = $1 "
        "FOR UPDATE",
        id);
    if (rows.empty()) throw not_found("limit_request_not_found", "limit request not found");
    const auto status = rows[0][0].as<std::string>();
    if (status != "pending") {
        throw conflict("limit_request_decided",
                       "limit request " + std::to_string(id) + " was already " + status);
    }
    const auto user_id = rows[0][1].as<std::int64_t>();
    if (user_id == c.who.user_id) {
        throw forbidden("own_limit_request", "operators cannot decide their own limit requests");
    }
    const json before = read_request(tx, s.limits, id);
    tx.exec_params(
        "UPDATE limit_requests SET status = $2, decided_at = now(), decided_by = $3, note = $4 "
        "WHERE id = $1",
        id, approve ? "approved" : "denied", c.who.user_id, note);
    if (approve) {
        tx.exec_params(
            "INSERT INTO account_limit_overrides (user_id, quota_key, value) VALUES ($1, $2, $3) "
            "ON CONFLICT (user_id, quota_key) DO UPDATE SET "
            // An old request approved late never lowers a limit raised since.
            "value = GREATEST(account_limit_overrides.value, EXCLUDED.value), updated_at = now()",
            user_id, rows[0][2].as<std::string>(), rows[0][3].as<std::int64_t>());
    }
    const json after = read_request(tx, s.limits, id);
    audit::record(tx, c.who, c.request_id,
                  {approve ? "limit_request.approve" : "limit_request.deny", "limit_request",
                   std::to_string(id), before, after});
    return after;
}

void add_decision_route(endpoints& api, services& s, const std::string& action, bool approve) {
    api.add(verb::post, "/limit_requests/{id}/" + action, access::op("users::update"),
            [&s, approve](http::request& req, const path_params& p,
                          call& c) -> asio::awaitable<http::response> {
                const auto id = id_param(p, "id");
                const auto note = bounded_string(json_body(req), "note", 0, 512);
                auto run = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    json out = decide(tx, s, c, id, approve, note);
                    tx.commit();
                    return out;
                };
                const json out = co_await s.db.run(run);
                co_return json_reply(admin_data(out));
            });
}

}  // namespace

void add_limit_request_routes(endpoints& api, services& s) {
    api.add(verb::get, "/limit_requests", access::op("users::view"),
            [&s](http::request& req, const path_params&, call&) -> asio::awaitable<http::response> {
                const auto page = page_params(req);
                const auto status = status_filter(req);
                const auto user_id = query_id(req, "user_id");
                auto list = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    json items = json::array();
                    for (const auto& r : tx.exec_params(
                             k_select + k_filter + "ORDER BY r.id DESC LIMIT $3 OFFSET $4", status,
                             user_id, page.limit, page.offset)) {
                        items.push_back(request_json(r, s.limits));
                    }
                    const auto total =
                        tx.exec_params1("SELECT count(*) FROM limit_requests r " + k_filter, status,
                                        user_id)[0]
                            .as<std::int64_t>();
                    return admin_page(std::move(items), total, page.limit, page.offset);
                };
                const json out = co_await s.db.run(list);
                co_return json_reply(out);
            });
    add_get_route(api, s, "/limit_requests/{id}", "users::view",
                  [&s](pqxx::work& tx, std::int64_t id) { return read_request(tx, s.limits, id); });
    add_decision_route(api, s, "approve", true);
    add_decision_route(api, s, "deny", false);
}

}  // namespace vpsfleet::api::admin
