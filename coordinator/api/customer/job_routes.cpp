#include "coordinator/api/customer/job_routes.hpp"

#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/api/customer/project_routes.hpp"
#include "coordinator/store/sql.hpp"

namespace vpsfleet::api::customer {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

const std::string k_job_select =
    "SELECT uid, kind, state, target, progress_step, progress_total, progress_percent, "
    "progress_message, error::text, " +
    store::iso8601("created_at") + ", " + store::iso8601("started_at") + ", " +
    store::iso8601("finished_at") + " FROM jobs ";

json nullable_text(const pqxx::field& f) { return f.is_null() ? json(nullptr) : json(f.c_str()); }

json job_json(const pqxx::row& r) {
    const std::string target = r[3].is_null() ? "" : r[3].as<std::string>();
    json progress = nullptr;
    if (!r[4].is_null() || !r[6].is_null()) {
        progress = {{"step", r[4].is_null() ? json(nullptr) : json(r[4].as<int>())},
                    {"total", r[5].is_null() ? json(nullptr) : json(r[5].as<int>())},
                    {"percent", r[6].is_null() ? json(nullptr) : json(r[6].as<int>())},
                    {"message", nullable_text(r[7])}};
    }
    return {{"uid", r[0].as<std::string>()},
            {"type", r[1].as<std::string>()},
            {"status", customer_job_status(r[2].as<std::string>())},
            {"instance", target.starts_with("ins_") ? json(target) : json(nullptr)},
            {"progress", progress},
            {"error", r[8].is_null() ? json(nullptr) : json::parse(r[8].as<std::string>())},
            {"created_at", r[9].as<std::string>()},
            {"started_at", nullable_text(r[10])},
            {"finished_at", nullable_text(r[11])}};
}

}  // namespace

std::string customer_job_status(const std::string& state) {
    if (state == "pending") return "queued";
    if (state == "completed") return "succeeded";
    return state;
}

nlohmann::json accepted_job(pqxx::work& tx, const jobs::enqueued_job& job,
                            const std::string& kind) {
    const auto created =
        tx.exec_params1("SELECT " + store::iso8601("created_at") + " FROM jobs WHERE id = $1",
                        job.id)[0]
            .as<std::string>();
    return {{"uid", job.uid},
            {"type", kind},
            {"status", customer_job_status("pending")},
            {"createdAt", created}};
}

void add_job_routes(endpoints& api, services& s) {
    api.add(
        verb::get, "/projects/{project}/jobs", access::signed_in(),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const std::string project = p.at("project");
            const std::string instance = query_param(req, "instance").value_or("");
            auto list = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const auto project_id = resolve_project(tx, c, project);
                json out = json::array();
                for (const auto& r : tx.exec_params(
                         k_job_select + "WHERE project_id = $1 AND ($2 = '' OR target = $2) "
                                        "ORDER BY id DESC LIMIT 50",
                         project_id, instance)) {
                    out.push_back(job_json(r));
                }
                return out;
            };
            const json jobs = co_await s.db.run(list);
            co_return json_reply({{"jobs", jobs}});
        });

    api.add(verb::get, "/projects/{project}/jobs/{job}", access::signed_in(),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const std::string project = p.at("project");
                const std::string job = p.at("job");
                auto read = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    const auto project_id = resolve_project(tx, c, project);
                    const auto rows = tx.exec_params(
                        k_job_select + "WHERE project_id = $1 AND uid = $2", project_id, job);
                    if (rows.empty()) throw not_found("job_not_found", "Job not found");
                    return job_json(rows[0]);
                };
                const json found = co_await s.db.run(read);
                co_return json_reply({{"job", found}});
            });
}

}  // namespace vpsfleet::api::customer
