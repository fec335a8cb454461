#include "coordinator/api/admin/fields.hpp"
#include "coordinator/api/admin/fleet_routes.hpp"

#include "coordinator/api/admin/read_routes.hpp"
#include "coordinator/api/admin/role_routes.hpp"
#include "coordinator/api/admin/vm_create_routes.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/store/json_fields.hpp"
#include "coordinator/store/sql.hpp"

namespace vpsfleet::api::admin {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

using store::text_or_null;

const std::string k_finding_select =
    "SELECT f.id, f.kind, f.host_id, h.name, f.domain_uuid, f.resource_name, f.instance_id, "
    "  f.expected, f.observed, " +
    store::iso8601("f.detected_at") + ", " + store::iso8601("f.last_seen_at") + ", " +
    store::iso8601("f.resolved_at") + ", u.email, " + store::iso8601("f.acknowledged_at") +
    " FROM drift_findings f JOIN hosts h ON h.id = f.host_id "
    "LEFT JOIN users u ON u.id = f.acknowledged_by ";

// A VM gone from its host is what an operator must look at first; a stray domain is least urgent.
const char* severity_of(const std::string& kind) {
    if (kind == "missing") return "critical";
    if (kind == "drift") return "warning";
    return "info";
}

json finding_json(const pqxx::row& r) {
    const auto kind = r[1].as<std::string>();
    return {{"id", r[0].as<std::int64_t>()},
            {"kind", kind},
            {"severity", severity_of(kind)},
            {"resource_type", "server"},
            {"resource_id", r[4].as<std::string>()},
            {"resource_name", r[5].as<std::string>()},
            {"vm_id", r[6].is_null() ? json(nullptr) : json(r[6].as<std::int64_t>())},
            {"host_id", r[2].as<std::int64_t>()},
            {"host_name", r[3].as<std::string>()},
            {"field_name", kind == "drift" ? "power_state" : "presence"},
            {"old_value", text_or_null(r[7])},
            {"new_value", text_or_null(r[8])},
            {"detected_at", r[9].as<std::string>()},
            {"last_seen_at", r[10].as<std::string>()},
            {"resolved_at", text_or_null(r[11])},
            {"acknowledged", !r[13].is_null()},
            {"acknowledged_by", text_or_null(r[12])},
            {"acknowledged_at", text_or_null(r[13])}};
}

json read_finding(pqxx::work& tx, std::int64_t id) {
    return read_one(tx, k_finding_select + "WHERE f.id = $1", id, "drift_event_not_found",
                    "drift event not found", finding_json);
}

// The list's filters: kind, host_id, status (open, resolved or all; open by default) and
// acknowledged (true or false).
struct finding_filter {
    std::optional<std::string> kind;
    std::optional<std::int64_t> host_id;
    std::string status = "open";
    std::optional<bool> acknowledged;
};

finding_filter read_filter(const http::request& req) {
    finding_filter f;
    f.kind = query_param(req, "kind");
    if (f.kind && *f.kind != "missing" && *f.kind != "unmanaged" && *f.kind != "drift") {
        throw bad_request("kind must be missing, unmanaged or drift");
    }
    f.host_id = query_id(req, "host_id");
    f.status = query_param(req, "status").value_or("open");
    if (f.status != "open" && f.status != "resolved" && f.status != "all") {
        throw bad_request("status must be open, resolved or all");
    }
    if (const auto ack = query_param(req, "acknowledged")) {
        if (*ack != "true" && *ack != "false")
            throw bad_request("acknowledged must be true or false");
        f.acknowledged = *ack == "true";
    }
    return f;
}

const std::string k_filter_where =
    "WHERE ($1::text IS NULL OR f.kind = $1) AND ($2::bigint IS NULL OR f.host_id = $2) AND "
    "($3 = 'all' OR ($3 = 'open') = (f.resolved_at IS NULL)) AND "
    "($4::boolean IS NULL OR $4 = (f.acknowledged_at IS NOT NULL)) ";

}  // namespace

void add_drift_routes(endpoints& api, services& s) {
    api.add(
        verb::get, "/drift/events", access::op("drift::view"),
        [&s](http::request& req, const path_params&, call&) -> asio::awaitable<http::response> {
            const auto page = page_params(req);
            const auto filter = read_filter(req);
            auto list = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                json items = json::array();
                for (const auto& r : tx.exec_params(k_finding_select + k_filter_where +
                                                        "ORDER BY f.id DESC LIMIT $5 OFFSET $6",
                                                    filter.kind, filter.host_id, filter.status,
                                                    filter.acknowledged, page.limit, page.offset)) {
                    items.push_back(finding_json(r));
                }
                const auto total =
                    tx.exec_params1("SELECT count(*) FROM drift_findings f " + k_filter_where,
                                    filter.kind, filter.host_id, filter.status,
                                    filter.acknowledged)[0]
                        .as<std::int64_t>();
                return admin_page(std::move(items), total, page.limit, page.offset);
            };
            const json out = co_await s.db.run(list);
            co_return json_reply(out);
        });

    api.add(
        verb::get, "/drift/summary", access::op("drift::view"),
        [&s](http::request&, const path_params&, call&) -> asio::awaitable<http::response> {
            auto summarize = [](pqxx::connection& conn) {
                pqxx::work tx(conn);
                json by_kind = {{"missing", 0}, {"unmanaged", 0}, {"drift", 0}};
                json by_severity = {{"critical", 0}, {"warning", 0}, {"info", 0}};
                std::int64_t open = 0;
                for (const auto& r :
                     tx.exec("SELECT kind, count(*) FROM drift_findings WHERE resolved_at IS NULL "
                             "GROUP BY kind")) {
                    const auto kind = r[0].as<std::string>();
                    const auto n = r[1].as<std::int64_t>();
                    by_kind[kind] = n;
                    by_severity[severity_of(kind)] = n;
                    open += n;
                }
                const auto r = tx.exec1("SELECT count(*) FILTER (WHERE acknowledged_at IS NULL), " +
                                        store::iso8601("max(detected_at)") +
                                        " FROM drift_findings WHERE resolved_at IS NULL");
                return json{{"open_events", open},
                            {"unacknowledged", r[0].as<std::int64_t>()},
                            {"by_kind", by_kind},
                            {"by_severity", by_severity},
                            {"last_detected_at", text_or_null(r[1])}};
            };
            const json out = co_await s.db.run(summarize);
            co_return json_reply(admin_data(out));
        });

    add_get_route(api, s, "/drift/events/{id}", "drift::view", read_finding);
    add_drift_import_route(api, s);

    api.add(verb::put, "/drift/events/{id}/acknowledge", access::op("drift::update"),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const auto id = id_param(p, "id");
                auto acknowledge = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    const json before = read_finding(tx, id);
                    tx.exec_params(
                        "UPDATE drift_findings SET acknowledged_by = $2, acknowledged_at = now() "
                        "WHERE id = $1 AND acknowledged_at IS NULL",
                        id, c.who.user_id);
                    const json after = read_finding(tx, id);
                    audit::record(
                        tx, c.who, c.request_id,
                        {"drift.acknowledge", "drift_event", std::to_string(id), before, after});
                    tx.commit();
                    return after;
                };
                const json out = co_await s.db.run(acknowledge);
                co_return json_reply(admin_data(out));
            });
}

}  // namespace vpsfleet::api::admin
