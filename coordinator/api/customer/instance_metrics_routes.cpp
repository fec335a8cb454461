#include "coordinator/api/customer/instance_metrics_routes.hpp"

#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/api/customer/project_routes.hpp"
#include "coordinator/auth/api_keys.hpp"
#include "coordinator/store/sql.hpp"

#include <regex>

namespace vpsfleet::api::customer {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

constexpr std::int64_t k_max_range_seconds = 31LL * 24 * 3600;
constexpr std::int64_t k_points = 300;  // about this many steps for a custom range

struct window {
    std::string period;  // hour, day, week, month or custom
    std::optional<std::string> start_time;
    std::optional<std::string> end_time;
    std::int64_t seconds = 3600;
    std::int64_t step = 60;
};

std::optional<std::string> time_param(const http::request& req, const std::string& name) {
    static const std::regex k_time(
        R"(^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}:\d{2})?$)");
    auto text = query_param(req, name);
    if (text && !std::regex_match(*text, k_time)) {
        throw bad_request(name + " must be an ISO 8601 time such as 2026-01-15T12:00:00Z",
                          {{"field", name}});
    }
    return text;
}

window parse_window(const http::request& req) {
    window w;
    w.period = query_param(req, "period").value_or("hour");
    w.start_time = time_param(req, "start_time");
    w.end_time = time_param(req, "end_time");
    static const std::map<std::string, std::pair<std::int64_t, std::int64_t>> k_periods = {
        {"hour", {3600, 60}},
        {"day", {86400, 300}},
        {"week", {7 * 86400, 1800}},
        {"month", {30 * 86400, 7200}}};
    const auto it = k_periods.find(w.period);
    if (it == k_periods.end()) {
        throw bad_request("period must be one of hour, day, week, month", {{"field", "period"}});
    }
    std::tie(w.seconds, w.step) = it->second;
    return w;
}

// The range the window covers, worked out by PostgreSQL (it parses the times): from, to and the
// step in seconds. A custom range is start_time .. end_time (or now).
struct range {
    std::string from;
    std::string to;
    std::int64_t step = 60;
};

range resolve_range(pqxx::work& tx, const window& w) {
    pqxx::row r;
    try {
        pqxx::subtransaction check(tx, "metrics_range");
        r = check.exec_params1(
            "SELECT to_char(f AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
            "       to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
            "       extract(epoch FROM t - f)::bigint "
            "  FROM (SELECT coalesce($1::timestamptz, coalesce($2::timestamptz, now()) - "
            "                        $3 * interval '1 second') AS f, "
            "               coalesce($2::timestamptz, now()) AS t) x",
            w.start_time, w.end_time, w.seconds);
        check.commit();
    } catch (const pqxx::data_exception&) {
        throw bad_request("start_time or end_time is not a valid time", {{"field", "start_time"}});
    }
    const auto seconds = r[2].as<std::int64_t>();
    if (seconds <= 0) {
        throw bad_request("start_time must be before end_time", {{"field", "start_time"}});
    }
    if (seconds > k_max_range_seconds) {
        throw bad_request("the range may span at most 31 days", {{"field", "start_time"}});
    }
    const bool custom = w.start_time || w.end_time;
    const std::int64_t step = custom ? std::max<std::int64_t>(60, seconds / k_points) : w.step;
    return {r[0].as<std::string>(), r[1].as<std::string>(), step};
}

json number_or_null(const pqxx::field& f) {
    return f.is_null() ? json(nullptr) : json(f.as<double>());
}

json history(pqxx::work& tx, const std::string& uuid, const range& r) {
    // Counters are cumulative: each sample's rate is its difference from the one before over
    // the time between them (a drop is a restarted domain: no rate), averaged per step. The
    // sample just before the range gives the first one its rate.
    const auto rows = tx.exec_params(
        "WITH s AS ("
        "  SELECT at, cpu_percent, memory_used, "
        "         (disk_read - lag(disk_read) OVER w) / dt AS dr, "
        "         (disk_write - lag(disk_write) OVER w) / dt AS dw, "
        "         (net_rx - lag(net_rx) OVER w) / dt AS rx, "
        "         (net_tx - lag(net_tx) OVER w) / dt AS tx "
        "    FROM (SELECT *, nullif(extract(epoch FROM at - lag(at) OVER (ORDER BY at)), 0) AS dt "
        "            FROM vm_samples WHERE vm_uuid = $1::uuid "
        "             AND at >= $2::timestamptz - $4 * interval '1 second' "
        "             AND at < $3::timestamptz) v "
        "  WINDOW w AS (ORDER BY at)) "
        "SELECT to_char(date_bin($4 * interval '1 second', at, $2::timestamptz) "
        "               AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS step, "
        "       avg(cpu_percent), avg(memory_used)::bigint, "
        "       avg(dr) FILTER (WHERE dr >= 0), avg(dw) FILTER (WHERE dw >= 0), "
        "       avg(rx) FILTER (WHERE rx >= 0), avg(tx) FILTER (WHERE tx >= 0) "
        "  FROM s WHERE at >= $2::timestamptz GROUP BY 1 ORDER BY 1",
        uuid, r.from, r.to, r.step);
    json out = json::array();
    for (const auto& row : rows) {
        out.push_back({{"timestamp", row[0].as<std::string>()},
                       {"cpu_percent", row[1].as<double>()},
                       {"memory_used_bytes", row[2].as<std::int64_t>()},
                       {"disk_read_bytes_per_second", number_or_null(row[3])},
                       {"disk_write_bytes_per_second", number_or_null(row[4])},
                       {"network_in_bytes_per_second", number_or_null(row[5])},
                       {"network_out_bytes_per_second", number_or_null(row[6])}});
    }
    return out;
}

json latest(pqxx::work& tx, const std::string& uuid, std::int64_t memory_mb) {
    const auto rows =
        tx.exec_params("SELECT " + store::iso8601("at") +
                           ", cpu_percent, memory_used, disk_read, disk_write, net_rx, net_tx "
                           "FROM vm_samples WHERE vm_uuid = $1::uuid ORDER BY at DESC LIMIT 1",
                       uuid);
    if (rows.empty()) return nullptr;
    const auto& r = rows[0];
    const double memory = static_cast<double>(memory_mb) * 1024 * 1024;
    return {{"timestamp", r[0].as<std::string>()},
            {"cpu_percent", r[1].as<double>()},
            {"memory_used_bytes", r[2].as<std::int64_t>()},
            {"memory_percent", memory > 0 ? 100.0 * r[2].as<double>() / memory : 0.0},
            {"disk_read_bytes", r[3].as<std::int64_t>()},
            {"disk_write_bytes", r[4].as<std::int64_t>()},
            {"network_in_bytes", r[5].as<std::int64_t>()},
            {"network_out_bytes", r[6].as<std::int64_t>()}};
}

}  // namespace

void add_instance_metrics_routes(endpoints& api, services& s) {
    api.add(
        verb::get, "/projects/{project}/instances/{instance}/metrics",
        access::key(auth::permission::read_vps),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const window w = parse_window(req);
            const std::string project = p.at("project");
            const std::string uid = p.at("instance");
            auto read = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const auto project_id = resolve_project(tx, c, project);
                const auto rows = tx.exec_params(
                    "SELECT i.libvirt_uuid::text, p.memory_mb FROM instances i "
                    "JOIN plans p ON p.id = i.plan_id "
                    "WHERE i.project_id = $1 AND i.uid = $2 AND i.deleted_at IS NULL",
                    project_id, uid);
                if (rows.empty()) throw not_found("instance_not_found", "Instance not found");
                const std::string uuid = rows[0][0].as<std::string>();
                const range r = resolve_range(tx, w);
                return json{{"metrics",
                             {{"period", w.start_time || w.end_time ? "custom" : w.period},
                              {"from", r.from},
                              {"to", r.to},
                              {"step_seconds", r.step},
                              {"current", latest(tx, uuid, rows[0][1].as<std::int64_t>())},
                              {"history", history(tx, uuid, r)}}}};
            };
            const json out = co_await s.db.run(read);
            co_return json_reply(out);
        });
}

}  // namespace vpsfleet::api::customer
