#include "coordinator/api/customer/instance_ip_routes.hpp"

#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/api/customer/instance_access.hpp"
#include "coordinator/api/customer/job_routes.hpp"
#include "coordinator/api/customer/project_routes.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/auth/api_keys.hpp"
#include "coordinator/ipam/address.hpp"
#include "coordinator/ipam/dns_name.hpp"
#include "coordinator/ipam/ip_jobs.hpp"
#include "coordinator/ipam/ipam_error.hpp"
#include "coordinator/jobs/job_store.hpp"
#include "coordinator/store/json_fields.hpp"

namespace vpsfleet::api::customer {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

// The name to set, or null to clear it; 400 with the field for anything else.
json reverse_dns_field(const json& body) {
    if (!body.is_object() || !body.contains("reverse_dns")) {
        throw bad_request("reverse_dns is required (a host name, or null to clear it)",
                          {{"field", "reverse_dns"}});
    }
    const json& value = body["reverse_dns"];
    if (value.is_null()) return nullptr;
    if (!value.is_string()) {
        throw bad_request("reverse_dns must be a host name or null", {{"field", "reverse_dns"}});
    }
    try {
        return ipam::normalize_dns_name(value.get<std::string>(), "reverse_dns");
    } catch (const ipam::ipam_error& e) {
        throw bad_request(e.what(), {{"field", "reverse_dns"}});
    }
}

}  // namespace

void add_instance_ip_routes(endpoints& api, services& s) {
    api.add(verb::get, "/projects/{project}/instances/{instance}/ips",
            access::key(auth::permission::read_vps),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const std::string project = p.at("project");
                const std::string uid = p.at("instance");
                auto list = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    const auto id = find_instance(tx, c, project, uid, false).id;
                    const auto rows = tx.exec_params(
                        "SELECT host(a.ip), family(a.ip), r.cidr::text, host(r.gateway), "
                        "a.dns_reverse, EXISTS (SELECT 1 FROM jobs j WHERE j.target = "
                        "'vm_ip_assignment:' || a.id AND j.state IN ('pending', 'running')) "
                        "FROM vm_ip_assignments a JOIN ip_ranges r ON r.id = a.ip_range_id "
                        "WHERE a.instance_id = $1 AND a.deleted_at IS NULL "
                        "ORDER BY family(a.ip), a.id",
                        id);
                    json ips = json::array();
                    for (const auto& r : rows) {
                        ips.push_back({{"ip", r[0].as<std::string>()},
                                       {"family", r[1].as<int>()},
                                       {"cidr", r[2].as<std::string>()},
                                       {"gateway", store::text_or_null(r[3])},
                                       {"reverse_dns", store::text_or_null(r[4])},
                                       {"change_pending", r[5].as<bool>()}});
                    }
                    return json{{"ips", ips}};
                };
                const json out = co_await s.db.run(list);
                co_return json_reply(out);
            });

    api.add(
        verb::patch, "/projects/{project}/instances/{instance}/ips/{ip}",
        access::key(auth::permission::vps_control),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const json name = reverse_dns_field(json_body(req));
            const auto ip = ipam::parse_address(p.at("ip"));
            if (!ip) throw not_found("ip_not_found", "IP address not found");
            const std::string project = p.at("project");
            const std::string uid = p.at("instance");
            auto change = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const auto [id, project_id, _, status] = find_instance(tx, c, project, uid, false);
                const auto rows = tx.exec_params(
                    "SELECT id, dns_reverse FROM vm_ip_assignments WHERE instance_id = $1 "
                    "AND ip = $2::inet AND deleted_at IS NULL FOR UPDATE",
                    id, ipam::to_string(*ip));
                if (rows.empty()) throw not_found("ip_not_found", "IP address not found");
                const auto assignment = rows[0][0].as<std::int64_t>();
                const auto job = jobs::enqueue(
                    tx, jobs::new_job{.kind = ipam::k_update_kind,
                                      .args = {{"assignment_id", assignment},
                                               {"changes", {{"dns_reverse", name}}}},
                                      .created_by_user_id = c.who.user_id > 0
                                                                ? std::optional(c.who.user_id)
                                                                : std::nullopt,
                                      .project_id = project_id,
                                      .target = "vm_ip_assignment:" + std::to_string(assignment),
                                      .exclusive = true});
                if (!job) {
                    throw conflict("operation_in_progress",
                                   "Another change to this address is still in progress");
                }
                audit::record(tx, c.who, c.request_id,
                              {"instance.reverse_dns", "instance", uid,
                               json{{"ip", ipam::to_string(*ip)},
                                    {"reverse_dns", store::text_or_null(rows[0][1])}},
                               json{{"ip", ipam::to_string(*ip)}, {"reverse_dns", name}}});
                tx.commit();
                return json{{"uid", job->uid},
                            {"type", ipam::k_update_kind},
                            {"status", customer_job_status("pending")}};
            };
            const json job = co_await s.db.run(change);
            co_return json_reply({{"job", job}}, http::status::accepted);
        });
}

}  // namespace vpsfleet::api::customer
