#include "coordinator/api/customer/instance_routes.hpp"

#include "coordinator/store/json_fields.hpp"

#include "common/secrets.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/api/customer/instance_access.hpp"
#include "coordinator/api/customer/job_routes.hpp"
#include "coordinator/api/customer/limit_routes.hpp"
#include "coordinator/api/customer/order_source.hpp"
#include "coordinator/api/customer/project_routes.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/auth/api_keys.hpp"
#include "coordinator/auth/email_verification.hpp"
#include "coordinator/billing/billing_error.hpp"
#include "coordinator/instances/instance_jobs.hpp"
#include "coordinator/instances/instance_order.hpp"
#include "coordinator/instances/instance_requests.hpp"
#include "coordinator/jobs/job_store.hpp"
#include "coordinator/store/sql.hpp"

#include <regex>

namespace vpsfleet::api::customer {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

using store::int_or_null;
using store::text_or_null;

// The instance, its plan, image and app, and its open job if it has one.
const std::string k_instance_select =
    "SELECT i.uid, i.name, i.status, i.power_state, i.backup_tier, i.error_code, "
    "i.error_message, " +
    store::iso8601("i.created_at") +
    ", p.code, img.display_name, j.uid, j.kind, j.progress_step, j.progress_total, "
    "j.progress_percent, j.progress_message, i.root_password, i.id, "
    // primary_ip: the first live address, IPv4 before IPv6.
    "(SELECT host(a.ip) FROM vm_ip_assignments a WHERE a.instance_id = i.id "
    "AND a.deleted_at IS NULL ORDER BY family(a.ip), a.id LIMIT 1), app.slug, app.name "
    "FROM instances i JOIN plans p ON p.id = i.plan_id JOIN os_images img ON img.id = i.image_id "
    "LEFT JOIN apps app ON app.id = i.app_id "
    "LEFT JOIN LATERAL (SELECT uid, kind, progress_step, progress_total, progress_percent, "
    "progress_message FROM jobs WHERE target = i.uid AND state IN ('pending', 'running') "
    "ORDER BY id DESC LIMIT 1) j ON true ";

json instance_json(const pqxx::row& r) {
    const json app_slug = text_or_null(r[19]);
    const json app_name = text_or_null(r[20]);
    return {{"uid", r[0].as<std::string>()},
            {"name", r[1].as<std::string>()},
            {"status", r[2].as<std::string>()},
            {"power_state", r[3].as<std::string>()},
            {"backup_tier", r[4].as<std::string>()},
            {"error_code", text_or_null(r[5])},
            {"error_message", text_or_null(r[6])},
            {"created_at", r[7].as<std::string>()},
            {"plan_code", r[8].as<std::string>()},
            {"primary_ip", text_or_null(r[18])},
            {"image_name", r[9].as<std::string>()},
            {"app_slug", app_slug},
            {"app_name", app_name},
            {"job_uid", text_or_null(r[10])},
            {"job_type", text_or_null(r[11])},
            {"progress_step", int_or_null(r[12])},
            {"progress_total", int_or_null(r[13])},
            {"progress_percent", int_or_null(r[14])},
            {"progress_message", text_or_null(r[15])}};
}

json job_brief(const std::string& uid, const std::string& kind) {
    return {{"uid", uid}, {"type", kind}, {"status", customer_job_status("pending")}};
}

std::string valid_hostname(const json& body) {
    static const std::regex k_hostname("^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$");
    std::string name = required_string(body, "name");
    if (!std::regex_match(name, k_hostname)) {
        throw bad_request("name must be a lowercase hostname label (a-z, 0-9, -; 1-64 characters)",
                          {{"field", "name"}});
    }
    return name;
}

bool name_taken(pqxx::work& tx, std::int64_t project_id, const std::string& name,
                std::int64_t except_id = 0) {
    return !tx.exec_params(
                  "SELECT 1 FROM instances WHERE project_id = $1 AND name = $2 "
                  "AND deleted_at IS NULL AND id <> $3",
                  project_id, name, except_id)
                .empty();
}

struct create_request {
    std::string name;
    std::string plan;
    order_source source;
    std::string backup_tier = "none";
    std::optional<std::string> password;
    json ssh_keys = json::array();
};

create_request parse_create(const json& body) {
    create_request r;
    r.name = valid_hostname(body);
    r.plan = required_string(body, "plan");
    r.source = parse_order_source(body);
    r.backup_tier = optional_string(body, "backup_tier").value_or("none");
    if (r.backup_tier != "none" && r.backup_tier != "basic" && r.backup_tier != "extended") {
        throw bad_request("backup_tier must be none, basic or extended",
                          {{"field", "backup_tier"}});
    }
    r.password = optional_string(body, "password");
    if (r.password && (r.password->size() < 8 || r.password->size() > 72)) {
        throw bad_request("password must be 8-72 characters", {{"field", "password"}});
    }
    if (body.contains("networks") && !body["networks"].is_null() && !body["networks"].is_array()) {
        throw bad_request("networks must be a list", {{"field", "networks"}});
    }
    if (body.contains("ssh_keys") && !body["ssh_keys"].is_null()) {
        const json& keys = body["ssh_keys"];
        if (!keys.is_array()) throw bad_request("ssh_keys must be a list", {{"field", "ssh_keys"}});
        for (const auto& k : keys) {
            if (!k.is_string()) {
                throw bad_request("ssh_keys must be a list of strings", {{"field", "ssh_keys"}});
            }
        }
        r.ssh_keys = keys;
    }
    return r;
}

// Prepaid billing: the owner pays the first period before anything is built; 402 otherwise.
instances::ordered_instance order_paid(pqxx::work& tx, const auth::secret_box& box,
                                       const coordinator::billing_config& billing,
                                       std::optional<std::int64_t> user_id,
                                       const instances::instance_order& order) {
    try {
        return instances::order_instance(tx, box, billing, user_id, order);
    } catch (const billing::billing_error& e) {
        throw api_error(http::status::payment_required, "billing_" + e.code, e.what());
    }
}

}  // namespace

void add_instance_routes(endpoints& api, services& s) {
    api.add(verb::get, "/projects/{project}/instances", access::key(auth::permission::read_vps),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const std::string project = p.at("project");
                auto list = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    const auto project_id = resolve_project(tx, c, project);
                    json out = json::array();
                    for (const auto& r : tx.exec_params(
                             k_instance_select +
                                 "WHERE i.project_id = $1 AND i.deleted_at IS NULL ORDER BY i.id",
                             project_id)) {
                        out.push_back(instance_json(r));
                    }
                    return out;
                };
                const json instances = co_await s.db.run(list);
                co_return json_reply({{"instances", instances}});
            });

    api.add(
        verb::post, "/projects/{project}/instances", access::key(auth::permission::order_product),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const create_request r = parse_create(json_body(req));
            const std::string project = p.at("project");
            const std::string password = r.password.value_or(secrets::random_token("", 15));
            auto create = [&](pqxx::connection& conn) {
                const auto& box = s.keys.box(conn);
                pqxx::work tx(conn);
                const auto project_id = resolve_project(tx, c, project);
                auth::require_verified_email(tx, c.who.user_id);  // a key's owner, for a key
                const auto plan =
                    tx.exec_params("SELECT id FROM plans WHERE code = $1 AND active", r.plan);
                if (plan.empty()) throw not_found("plan_not_found", "Plan not found");
                const auto source = resolve_order_source(tx, project_id, r.source);
                check_plan_fits(tx, plan[0][0].as<std::int64_t>(), source);
                if (name_taken(tx, project_id, r.name)) {
                    throw conflict("name_taken", "An instance with this name already exists");
                }
                refuse_instance_over_limits(tx, s, c.who.user_id, project_id,
                                            plan[0][0].as<std::int64_t>());
                instances::instance_order order;
                order.project_id = project_id;
                order.name = r.name;
                order.plan_id = plan[0][0].as<std::int64_t>();
                order.image_id = source.image_id;
                order.app_id = source.app_id;
                order.template_id = source.template_id;
                order.backup_tier = r.backup_tier;
                order.password = password;
                order.ssh_keys = r.ssh_keys;
                const auto ordered = order_paid(tx, box, s.billing, acting_user(c), order);
                const std::string& uid = ordered.uid;
                const auto& job = ordered.job;
                const json instance = {{"uid", uid}, {"name", r.name}, {"status", "queued"}};
                audit::record(tx, c.who, c.request_id,
                              {"instance.create", "instance", uid, nullptr, instance});
                tx.commit();
                return json{{"instance", instance},
                            {"job", job_brief(job.uid, instances::k_create_kind)}};
            };
            const json out = co_await s.db.run(create);
            co_return json_reply(out, http::status::accepted);
        });

    api.add(verb::get, "/projects/{project}/instances/{instance}",
            access::key(auth::permission::read_vps),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const std::string project = p.at("project");
                const std::string uid = p.at("instance");
                auto read = [&](pqxx::connection& conn) {
                    const auto& box = s.keys.box(conn);
                    // The most frequent read there is: prepared once per connection.
                    conn.prepare("instance_by_uid",
                                 k_instance_select +
                                     "WHERE i.project_id = $1 AND i.uid = $2 AND "
                                     "i.deleted_at IS NULL");
                    pqxx::work tx(conn);
                    const auto project_id = resolve_project(tx, c, project);
                    const auto rows = tx.exec_prepared("instance_by_uid", project_id, uid);
                    if (rows.empty()) throw not_found("instance_not_found", "Instance not found");
                    json out = instance_json(rows[0]);
                    out["root_password"] = nullptr;
                    if (!rows[0][16].is_null()) {
                        const pqxx::binarystring sealed(rows[0][16]);
                        if (const auto plain = box.open(sealed.str())) {
                            out["root_password"] = std::string(plain->begin(), plain->end());
                        }
                    }
                    return out;
                };
                const json instance = co_await s.db.run(read);
                co_return json_reply({{"instance", instance}});
            });

    api.add(
        verb::patch, "/projects/{project}/instances/{instance}",
        access::key(auth::permission::vps_control),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const std::string name = valid_hostname(json_body(req));
            const std::string project = p.at("project");
            const std::string uid = p.at("instance");
            auto rename = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const auto [id, project_id, _, status] = find_instance(tx, c, project, uid, true);
                const auto before = tx.exec_params1("SELECT name FROM instances WHERE id = $1", id);
                if (name_taken(tx, project_id, name, id)) {
                    throw conflict("name_taken", "An instance with this name already exists");
                }
                tx.exec_params("UPDATE instances SET name = $2 WHERE id = $1", id, name);
                const json after = {{"uid", uid}, {"name", name}};
                audit::record(tx, c.who, c.request_id,
                              {"instance.rename", "instance", uid,
                               json{{"uid", uid}, {"name", before[0].as<std::string>()}}, after});
                tx.commit();
                return after;
            };
            const json instance = co_await s.db.run(rename);
            co_return json_reply({{"instance", instance}});
        });

    api.add(verb::delete_, "/projects/{project}/instances/{instance}",
            access::key(auth::permission::vps_delete),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const std::string project = p.at("project");
                const std::string uid = p.at("instance");
                auto remove = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    const auto [id, project_id, _, status] =
                        find_instance(tx, c, project, uid, true);
                    const auto job = enqueued_or_busy(
                        instances::request_delete(tx, acting_user(c), {id, uid, project_id}));
                    audit::record(tx, c.who, c.request_id,
                                  {"instance.delete", "instance", uid,
                                   json{{"uid", uid}, {"status", status}}, nullptr});
                    tx.commit();
                    return job_brief(job.uid, instances::k_delete_kind);
                };
                const json job = co_await s.db.run(remove);
                co_return json_reply({{"job", job}}, http::status::accepted);
            });

    api.add(
        verb::post, "/projects/{project}/instances/{instance}/actions",
        access::key(auth::permission::vps_control),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const std::string action = required_string(json_body(req), "type");
            if (action != "start" && action != "stop" && action != "shutdown" &&
                action != "reboot" && action != "reset") {
                throw bad_request("type must be one of start, stop, shutdown, reboot, reset",
                                  {{"field", "type"}});
            }
            const std::string project = p.at("project");
            const std::string uid = p.at("instance");
            auto act = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const auto [id, project_id, _, status] = find_instance(tx, c, project, uid, true);
                if (!instances::power_allowed(action, status)) {
                    throw conflict("invalid_state",
                                   "Cannot " + action + " an instance that is " + status);
                }
                const auto job = enqueued_or_busy(
                    instances::request_power(tx, acting_user(c), {id, uid, project_id}, action));
                audit::record(tx, c.who, c.request_id,
                              {"instance." + action, "instance", uid, nullptr, nullptr});
                tx.commit();
                return job_brief(job.uid, instances::k_power_kind);
            };
            const json job = co_await s.db.run(act);
            co_return json_reply({{"job", job}}, http::status::accepted);
        });
}

}  // namespace vpsfleet::api::customer
