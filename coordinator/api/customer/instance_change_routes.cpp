#include "coordinator/api/customer/instance_change_routes.hpp"

#include "common/secrets.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/api/customer/instance_access.hpp"
#include "coordinator/api/customer/job_routes.hpp"
#include "coordinator/api/customer/limit_routes.hpp"
#include "coordinator/api/customer/order_source.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/auth/api_keys.hpp"
#include "coordinator/auth/ssh_public_key.hpp"
#include "coordinator/billing/billing_error.hpp"
#include "coordinator/billing/billing_settings.hpp"
#include "coordinator/billing/prepaid.hpp"
#include "coordinator/fleet/send_command.hpp"
#include "coordinator/instances/instance_changes.hpp"
#include "coordinator/instances/instance_steps.hpp"
#include "coordinator/scheduler/reservations.hpp"
#include "coordinator/store/sql.hpp"

#include <chrono>

namespace vpsfleet::api::customer {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

// The guest agent answers within seconds or not at all.
constexpr auto k_guest_agent_wait = std::chrono::seconds(30);

project_instance idle_instance(pqxx::work& tx, const call& c, const std::string& project,
                               const std::string& uid) {
    auto instance = find_instance(tx, c, project, uid, true);
    if (!instances::idle_for_ops(instance.status)) {
        throw conflict("operation_in_progress",
                       "The instance is " + instance.status + "; it must be running or stopped");
    }
    return instance;
}

instances::instance_ref ref_of(const project_instance& i) { return {i.id, i.uid, i.project_id}; }

std::string new_password(const json& body) {
    const auto password = optional_string(body, "password");
    if (password && (password->size() < 8 || password->size() > 72)) {
        throw bad_request("password must be 8-72 characters", {{"field", "password"}});
    }
    return password.value_or(secrets::random_token("", 15));
}

void store_password(pqxx::work& tx, const auth::secret_box& box, std::int64_t instance_id,
                    const std::string& password) {
    const std::string sealed =
        box.seal(std::vector<unsigned char>(password.begin(), password.end()));
    tx.exec_params("UPDATE instances SET root_password = $2 WHERE id = $1", instance_id,
                   pqxx::binarystring(sealed.data(), sealed.size()));
}

json ssh_keys_of(const json& body) {
    if (!body.contains("sshKeys") || body["sshKeys"].is_null()) return nullptr;
    const json& keys = body["sshKeys"];
    if (!keys.is_array()) throw bad_request("sshKeys must be a list", {{"field", "sshKeys"}});
    json out = json::array();
    for (const auto& k : keys) {
        const auto key =
            k.is_string() ? auth::parse_ssh_public_key(k.get<std::string>()) : std::nullopt;
        if (!key) {
            throw bad_request("sshKeys must be OpenSSH public keys, one per entry",
                              {{"field", "sshKeys"}});
        }
        out.push_back(key->public_key);
    }
    return out;
}

// Suble rebuilds from an image or a project template; an app is only ever ordered.
order_source rebuild_source(const json& body) {
    auto source = parse_order_source(body);
    if (source.from == order_source::kind::app) {
        throw bad_request("a rebuild takes an image or a template, not an app",
                          {{"field", "source"}});
    }
    return source;
}

// Runs `change(tx, box)` in one transaction and answers 202 with the job it returns.
template <class Change>
asio::awaitable<http::response> accepted(services& s, Change change) {
    auto run = [&](pqxx::connection& conn) {
        const auto& box = s.keys.box(conn);
        pqxx::work tx(conn);
        json out = change(tx, box);
        tx.commit();
        return out;
    };
    const json job = co_await s.db.run(run);
    co_return json_reply(job, http::status::accepted);
}

// ---- resize ---------------------------------------------------------------------------------

json resize(pqxx::work& tx, services& s, const call& c, const std::string& project,
            const std::string& uid, const std::string& plan_code) {
    const auto instance = idle_instance(tx, c, project, uid);
    const auto plan = tx.exec_params(
        "SELECT id, vcpu, memory_mb, disk_gb FROM plans WHERE code = $1 AND active", plan_code);
    if (plan.empty()) throw not_found("plan_not_found", "Plan not found");
    const auto current = tx.exec_params1(
        "SELECT i.plan_id, p.code, p.disk_gb, i.allocation_id FROM instances i "
        "JOIN plans p ON p.id = i.plan_id WHERE i.id = $1",
        instance.id);
    const auto plan_id = plan[0][0].as<std::int64_t>();
    if (plan[0][3].as<std::int64_t>() < current[2].as<std::int64_t>()) {
        throw bad_request("a plan's disk can only grow: " + plan_code + " has " +
                              plan[0][3].as<std::string>() + " GB, the instance has " +
                              current[2].as<std::string>() + " GB",
                          {{"field", "plan"}});
    }
    if (current[3].is_null()) {
        throw conflict("invalid_state", "The instance is not placed on a host");
    }
    refuse_resize_over_limits(tx, s, c.who.user_id, instance.project_id,
                              current[0].as<std::int64_t>(), plan_id);
    // Enqueued first, so that the history entry of the plan change names its job.
    const auto job =
        enqueued_or_busy(instances::request_resize(tx, acting_user(c), ref_of(instance)));
    const scheduler::placement_request size{std::nullopt,
                                            plan[0][1].as<std::int64_t>(),
                                            plan[0][2].as<std::int64_t>() * 1024 * 1024,
                                            plan[0][3].as<std::int64_t>() * instances::k_gib,
                                            std::nullopt,
                                            std::nullopt};
    const auto room = scheduler::resize_reservation(tx, current[3].as<std::int64_t>(), size);
    if (room == scheduler::resize_outcome::no_room) {
        throw conflict("no_capacity", "The instance's host has no room for plan " + plan_code);
    }
    if (room == scheduler::resize_outcome::no_reservation) {
        throw conflict("invalid_state", "The instance has no reservation on its host");
    }
    if (plan_id != current[0].as<std::int64_t>()) {
        if (s.billing.prepaid) {
            try {
                billing::switch_plan(tx, instance.id, plan_id, std::chrono::system_clock::now(),
                                     s.billing.currency, billing::taxes_of(s.billing));
            } catch (const billing::billing_error& e) {
                throw api_error(http::status::payment_required, "billing_" + e.code, e.what());
            }
        } else {
            tx.exec_params("UPDATE instances SET plan_id = $2 WHERE id = $1", instance.id, plan_id);
        }
    }
    audit::record(tx, c.who, c.request_id,
                  {"instance.resize", "instance", uid, json{{"plan", current[1].as<std::string>()}},
                   json{{"plan", plan_code}}});
    return accepted_job(tx, job, instances::k_resize_kind);
}

// ---- rebuild --------------------------------------------------------------------------------

json rebuild(pqxx::work& tx, const auth::secret_box& box, const call& c, const std::string& project,
             const std::string& uid, const json& body) {
    const auto source_ref = rebuild_source(body);
    const json keys = ssh_keys_of(body);
    if (body.contains("backup") && !body["backup"].is_boolean()) {
        throw bad_request("backup must be true or false", {{"field", "backup"}});
    }
    const auto instance = idle_instance(tx, c, project, uid);
    const auto source = resolve_order_source(tx, instance.project_id, source_ref);
    check_plan_fits(tx,
                    tx.exec_params1("SELECT plan_id FROM instances WHERE id = $1", instance.id)[0]
                        .as<std::int64_t>(),
                    source);
    // Enqueued first, so that the history entry of the new image names its job.
    const auto job = enqueued_or_busy(instances::request_rebuild(
        tx, acting_user(c), ref_of(instance), instance.status == "running"));
    // No longer the app it may have been ordered as: its install script must not run again.
    tx.exec_params(
        "UPDATE instances SET image_id = $2, app_id = NULL, template_id = $3, "
        "ssh_keys_snapshot = COALESCE($4::jsonb, ssh_keys_snapshot) WHERE id = $1",
        instance.id, source.image_id, source.template_id,
        keys.is_null() ? std::optional<std::string>() : keys.dump());
    // The new system's root password, shown on the instance until acknowledged.
    store_password(tx, box, instance.id, secrets::random_token("", 15));
    audit::record(tx, c.who, c.request_id,
                  {"instance.rebuild", "instance", uid, nullptr, body["source"]});
    return accepted_job(tx, job, instances::k_rebuild_kind);
}

// ---- ssh-key ----------------------------------------------------------------------------------

struct guest_target {
    std::int64_t host_id = 0;
    std::string vm;
    std::string user;
    std::string ip;
    json keys;
    bool present = false;
};

guest_target guest_of(pqxx::work& tx, const call& c, const std::string& project,
                      const std::string& uid, const auth::ssh_public_key& key) {
    const auto instance = find_instance(tx, c, project, uid, false);
    const auto r = tx.exec_params1(
        "SELECT i.host_id, i.libvirt_uuid::text, img.default_user, i.ssh_keys_snapshot::text, "
        "COALESCE((SELECT host(a.ip) FROM vm_ip_assignments a WHERE a.instance_id = i.id "
        "AND a.deleted_at IS NULL ORDER BY family(a.ip), a.id LIMIT 1), '') "
        "FROM instances i JOIN os_images img ON img.id = i.image_id WHERE i.id = $1",
        instance.id);
    if (instance.status != "running" || r[0].is_null()) {
        throw conflict("invalid_state", "The instance has no running VM");
    }
    guest_target t{r[0].as<std::int64_t>(),
                   r[1].as<std::string>(),
                   r[2].as<std::string>(),
                   r[4].as<std::string>(),
                   json::parse(r[3].as<std::string>()),
                   false};
    for (const auto& k : t.keys) {
        const auto known = auth::parse_ssh_public_key(k.get<std::string>());
        if (known && known->fingerprint == key.fingerprint) t.present = true;
    }
    if (!t.present) t.keys.push_back(key.public_key);
    return t;
}

api_error guest_refused(const fleet::command_outcome& out) {
    const std::string message =
        out.error.is_object() ? out.error.value("message", out.state) : out.state;
    const std::string code = out.error.is_object() ? out.error.value("code", "") : "";
    if (out.state == "expired") {
        return {http::status::gateway_timeout, "host_unreachable",
                "The instance's host did not answer in time"};
    }
    if (code == "no_guest_agent" || code == "unsupported" || code == "invalid_state") {
        return {http::status::conflict, "guest_agent_unavailable",
                "The guest agent could not add the key: " + message};
    }
    return {http::status::bad_gateway, "host_error", message};
}

}  // namespace

void add_instance_change_routes(endpoints& api, services& s) {
    api.add(
        verb::post, "/projects/{project}/instances/{instance}/resize",
        access::key(auth::permission::vps_control),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const std::string plan = required_string(json_body(req), "plan");
            co_return co_await accepted(s, [&](pqxx::work& tx, const auth::secret_box&) {
                return resize(tx, s, c, p.at("project"), p.at("instance"), plan);
            });
        });

    api.add(
        verb::post, "/projects/{project}/instances/{instance}/rebuild",
        access::key(auth::permission::vps_delete),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const json body = json_body(req);
            co_return co_await accepted(s, [&](pqxx::work& tx, const auth::secret_box& box) {
                return rebuild(tx, box, c, p.at("project"), p.at("instance"), body);
            });
        });

    api.add(
        verb::post, "/projects/{project}/instances/{instance}/password",
        access::key(auth::permission::vps_control),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const std::string password = new_password(json_body(req));
            co_return co_await accepted(s, [&](pqxx::work& tx, const auth::secret_box& box) {
                const auto instance = idle_instance(tx, c, p.at("project"), p.at("instance"));
                store_password(tx, box, instance.id, password);
                const auto job = enqueued_or_busy(
                    instances::request_password_reset(tx, acting_user(c), ref_of(instance)));
                audit::record(
                    tx, c.who, c.request_id,
                    {"instance.reset_password", "instance", instance.uid, nullptr, nullptr});
                json out = accepted_job(tx, job, instances::k_reset_password_kind);
                out["password"] = password;
                return out;
            });
        });

    api.add(
        verb::post, "/projects/{project}/instances/{instance}/ssh-key",
        access::key(auth::permission::vps_control),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const json body = json_body(req);
            const auto text =
                body.is_object() && body.contains("publicKey") && body["publicKey"].is_string()
                    ? auth::parse_ssh_public_key(body["publicKey"].get<std::string>())
                    : std::nullopt;
            if (!text) {
                throw api_error(http::status::bad_request, "invalid_key",
                                "publicKey must be one OpenSSH public key on a single line",
                                {{"field", "publicKey"}});
            }
            const auth::ssh_public_key key = *text;
            auto locate = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                return guest_of(tx, c, p.at("project"), p.at("instance"), key);
            };
            const guest_target target = co_await s.db.run(locate);
            const json args = {{"vm", target.vm}, {"user", target.user}, {"ssh_keys", target.keys}};
            const auto deadline = std::chrono::system_clock::now() + k_guest_agent_wait;
            const fleet::command_outcome out = co_await fleet::send_command(
                s.db, target.host_id, "vm.guest.set_ssh_keys", args, deadline);
            if (out.state != "completed") throw guest_refused(out);
            auto remember = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const auto instance = find_instance(tx, c, p.at("project"), p.at("instance"), true);
                if (!target.present) {
                    tx.exec_params(
                        "UPDATE instances SET ssh_keys_snapshot = ssh_keys_snapshot || $2::jsonb "
                        "WHERE id = $1 AND NOT ssh_keys_snapshot @> $2::jsonb",
                        instance.id, json::array({key.public_key}).dump());
                }
                audit::record(tx, c.who, c.request_id,
                              {"instance.ssh_key", "instance", instance.uid, nullptr,
                               json{{"fingerprint", key.fingerprint}}});
                tx.commit();
            };
            co_await s.db.run(remember);
            co_return json_reply({{"added", !target.present},
                                  {"alreadyPresent", target.present},
                                  {"user", target.user},
                                  {"ip", target.ip}});
        });
}

}  // namespace vpsfleet::api::customer
