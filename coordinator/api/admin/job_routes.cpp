// Work jobs for operators: /jobs (list, filtered and paginated), /jobs/{id} with its events, and
// LNVPS's live feedback WebSocket /jobs/feedback. Jobs are named by their uid, the job_id every
// admin action answers with.
#include "coordinator/api/admin/job_routes.hpp"
#include "coordinator/api/admin/fields.hpp"
#include "coordinator/api/admin/job_feedback.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/store/sql.hpp"

#include <boost/beast/websocket/rfc6455.hpp>

namespace vpsfleet::api::admin {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

const std::string k_job_select =
    "SELECT j.id, j.uid, j.kind, j.args::text, j.state, j.target, j.progress_step, "
    "j.progress_total, j.progress_percent, j.progress_message, j.result::text, j.error::text, "
    "j.attempts, j.max_attempts, j.lease_owner, j.created_by_user_id, j.cancel_requested, " +
    store::iso8601("j.created_at") + ", " + store::iso8601("j.started_at") + ", " +
    store::iso8601("j.finished_at") + " FROM jobs j ";

// state, kind, target, user_id.
const std::string k_job_filter =
    "WHERE ($1::text IS NULL OR j.state = $1) AND ($2::text IS NULL OR j.kind = $2) "
    "AND ($3::text IS NULL OR j.target = $3) AND ($4::bigint IS NULL OR j.created_by_user_id = "
    "$4) ";

json json_or_null(const pqxx::field& f) {
    return f.is_null() ? json(nullptr) : json::parse(f.as<std::string>());
}

json job_json(const pqxx::row& r) {
    const json args = json::parse(r[3].as<std::string>());
    json progress = nullptr;
    if (!r[8].is_null()) {
        progress = {{"step", int_or_null(r[6])},
                    {"total", int_or_null(r[7])},
                    {"percent", r[8].as<int>()},
                    {"message", text_or_null(r[9])}};
    }
    return {{"id", r[1].as<std::string>()},
            {"job_type", lnvps_job_type(r[2].as<std::string>(), args)},
            {"kind", r[2].as<std::string>()},
            {"state", r[4].as<std::string>()},
            {"target", text_or_null(r[5])},
            {"progress", progress},
            {"result", json_or_null(r[10])},
            {"error", json_or_null(r[11])},
            {"attempts", r[12].as<int>()},
            {"max_attempts", r[13].as<int>()},
            {"worker_id", text_or_null(r[14])},
            {"created_by_user_id", int_or_null(r[15])},
            {"cancel_requested", r[16].as<bool>()},
            {"created", r[17].as<std::string>()},
            {"started", text_or_null(r[18])},
            {"finished", text_or_null(r[19])}};
}

struct job_filter {
    std::optional<std::string> state;
    std::optional<std::string> kind;
    std::optional<std::string> target;
    std::optional<std::int64_t> user_id;
};

job_filter parse_filter(const http::request& req) {
    job_filter f{query_param(req, "state"), query_param(req, "kind"), query_param(req, "target"),
                 query_id(req, "user_id")};
    if (f.state && *f.state != "pending" && *f.state != "running" && *f.state != "completed" &&
        *f.state != "failed" && *f.state != "cancelled") {
        throw bad_request("state must be pending, running, completed, failed or cancelled",
                          {{"field", "state"}});
    }
    return f;
}

job_identity find_job(pqxx::connection& conn, const std::string& uid) {
    pqxx::read_transaction tx(conn);
    const auto rows = tx.exec_params("SELECT id, kind, args::text FROM jobs WHERE uid = $1", uid);
    if (rows.empty()) throw not_found("job_not_found", "Job not found");
    return {rows[0][0].as<std::int64_t>(), uid, rows[0][1].as<std::string>(),
            json::parse(rows[0][2].as<std::string>())};
}

}  // namespace

void add_job_routes(endpoints& api, services& s) {
    api.add(verb::get, "/jobs", access::op("jobs::view"),
            [&s](http::request& req, const path_params&, call&) -> asio::awaitable<http::response> {
                const auto page = page_params(req);
                const job_filter f = parse_filter(req);
                auto list = [&page, &f](pqxx::connection& conn) {
                    pqxx::read_transaction tx(conn);
                    json items = json::array();
                    for (const auto& r : tx.exec_params(
                             k_job_select + k_job_filter + "ORDER BY j.id DESC LIMIT $5 OFFSET $6",
                             f.state, f.kind, f.target, f.user_id, page.limit, page.offset)) {
                        items.push_back(job_json(r));
                    }
                    const auto total =
                        tx.exec_params1("SELECT count(*) FROM jobs j " + k_job_filter, f.state,
                                        f.kind, f.target, f.user_id)[0]
                            .as<std::int64_t>();
                    return admin_page(std::move(items), total, page.limit, page.offset);
                };
                const json out = co_await s.db.run(list);
                co_return json_reply(out);
            });

    // Before /jobs/{id}, which would take "feedback" for a job id.
    api.add(
        verb::get, "/jobs/feedback", access::op(""),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            if (!boost::beast::websocket::is_upgrade(req)) {
                throw api_error(http::status::upgrade_required, "upgrade_required",
                                "/jobs/feedback is a WebSocket: connect with Upgrade: websocket");
            }
            if (!s.job_watch) {
                throw api_error(http::status::service_unavailable, "service_unavailable",
                                "Job feedback is not available on this coordinator");
            }
            std::optional<job_identity> job;
            if (const auto uid = query_param(req, "job_id")) {
                auto find = [&uid](pqxx::connection& conn) { return find_job(conn, *uid); };
                job = co_await s.db.run(find);
            }
            c.websocket = feedback_session(s.db, *s.job_watch, std::move(job));
            co_return http::response{http::status::switching_protocols, 11};
        });

    api.add(verb::get, "/jobs/{id}", access::op("jobs::view"),
            [&s](http::request&, const path_params& p, call&) -> asio::awaitable<http::response> {
                const std::string uid = p.at("id");
                auto read = [&uid](pqxx::connection& conn) {
                    pqxx::read_transaction tx(conn);
                    const auto rows = tx.exec_params(k_job_select + "WHERE j.uid = $1", uid);
                    if (rows.empty()) throw not_found("job_not_found", "Job not found");
                    json out = job_json(rows[0]);
                    json events = json::array();
                    for (const auto& e :
                         tx.exec_params("SELECT seq, type, data::text, worker, " +
                                            store::iso8601("created_at") +
                                            " FROM job_events WHERE job_id = $1 ORDER BY seq",
                                        rows[0][0].as<std::int64_t>())) {
                        events.push_back({{"seq", e[0].as<std::int64_t>()},
                                          {"type", e[1].as<std::string>()},
                                          {"data", json_or_null(e[2])},
                                          {"worker_id", text_or_null(e[3])},
                                          {"timestamp", e[4].as<std::string>()}});
                    }
                    out["events"] = std::move(events);
                    return out;
                };
                const json job = co_await s.db.run(read);
                co_return json_reply(admin_data(job));
            });
}

}  // namespace vpsfleet::api::admin
