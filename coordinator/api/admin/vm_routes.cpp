// /vms in LNVPS shapes (AdminVmInfo, AdminVmHistoryInfo) on the instances customers order. Start,
// stop and delete enqueue the same instance jobs as the customer API's power actions and delete
// (instances/instance_requests), so both APIs refuse and serialise operations alike.
#include "coordinator/api/admin/business_routes.hpp"
#include "coordinator/api/admin/fields.hpp"
#include "coordinator/api/admin/read_routes.hpp"
#include "coordinator/api/admin/role_routes.hpp"
#include "coordinator/api/admin/vm_create_routes.hpp"
#include "coordinator/api/admin/vm_lookup.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/instances/instance_requests.hpp"
#include "coordinator/store/sql.hpp"

namespace vpsfleet::api::admin {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

constexpr std::int64_t k_mib = 1024LL * 1024;
constexpr std::int64_t k_gib = 1024LL * k_mib;

// An instance's owner is its project's owner (LNVPS users own VMs directly). host_domains is
// what the VM's host last reported about it.
const std::string k_vm_from =
    "FROM instances i JOIN plans p ON p.id = i.plan_id "
    "JOIN os_images img ON img.id = i.image_id "
    "JOIN projects pr ON pr.id = i.project_id JOIN users o ON o.id = pr.owner_user_id "
    "LEFT JOIN hosts h ON h.id = i.host_id LEFT JOIN regions g ON g.id = h.region_id "
    "LEFT JOIN host_domains d ON d.host_id = i.host_id AND d.uuid = i.libvirt_uuid::text "
    "LEFT JOIN account_ssh_keys k ON k.id = i.ssh_key_id "
    "LEFT JOIN LATERAL (SELECT at, cpu_percent, memory_used, net_rx, net_tx, disk_write, "
    "  disk_read FROM vm_samples WHERE vm_uuid = i.libvirt_uuid ORDER BY at DESC LIMIT 1) u "
    "  ON true ";

const std::string k_vm_select =
    "SELECT i.id, " + store::iso8601("i.created_at") +
    ", i.mac, i.image_id, img.display_name, i.plan_id, p.name, p.vcpu, p.memory_mb, p.disk_gb, "
    "p.disk_type, p.disk_interface, i.host_id, h.name, h.region_id, g.name, o.id, o.pubkey, "
    "o.email, i.deleted_at IS NOT NULL, i.status, i.power_state, "
    "extract(epoch FROM COALESCE(d.seen_at, now()))::bigint, d.state, "
    "(SELECT json_agg(json_build_object('id', a.id, 'ip', host(a.ip), 'range_id', a.ip_range_id) "
    "   ORDER BY family(a.ip), a.id) FROM vm_ip_assignments a "
    "  WHERE a.instance_id = i.id AND a.deleted_at IS NULL), " +
    store::iso8601("i.expires_at") +
    ", i.auto_renew AND i.expires_at IS NOT NULL, i.ssh_key_id, k.name, i.ref_code, "
    "extract(epoch FROM u.at)::bigint, u.cpu_percent, u.memory_used, u.net_rx, u.net_tx, "
    "u.disk_write, u.disk_read " +
    k_vm_from;

// user_id, host_id, pubkey, region_id, include_deleted.
const std::string k_vm_filter =
    "WHERE ($1::bigint IS NULL OR o.id = $1) AND ($2::bigint IS NULL OR i.host_id = $2) "
    "AND ($3::text IS NULL OR o.pubkey = lower($3)) AND ($4::bigint IS NULL OR h.region_id = $4) "
    "AND ($5 OR i.deleted_at IS NULL) ";

// VmRunningStates from the instance's status and its host's last report; usage from the latest
// sample the host pushed (zero before the first), the timestamp that sample's or the report's.
json running_state(const pqxx::row& r) {
    const auto status = r[20].as<std::string>();
    if (r[12].is_null() || status == "deleted") return nullptr;
    std::string state;
    if (status == "deleting") {
        state = "deleting";
    } else if (status == "queued" || status == "installing") {
        state = "starting";
    } else {
        const std::string power =
            r[23].is_null() ? r[21].as<std::string>() : r[23].as<std::string>();
        state = power == "running" ? "running" : "stopped";
    }
    const bool sampled = !r[30].is_null();
    const auto counter = [&](int column) { return sampled ? r[column].as<std::int64_t>() : 0; };
    const double memory = static_cast<double>(r[8].as<std::int64_t>() * k_mib);
    return {{"timestamp", sampled ? r[30].as<std::int64_t>() : r[22].as<std::int64_t>()},
            {"state", state},
            {"cpu_usage", sampled ? r[31].as<double>() : 0.0},
            {"mem_usage", sampled && memory > 0 ? 100.0 * r[32].as<double>() / memory : 0.0},
            {"uptime", 0},
            {"net_in", counter(33)},
            {"net_out", counter(34)},
            {"disk_write", counter(35)},
            {"disk_read", counter(36)}};
}

// An instance not placed yet (or that failed to be) has no host nor region: those are null.
json vm_json(const pqxx::row& r) {
    return {{"id", r[0].as<std::int64_t>()},
            {"created", r[1].as<std::string>()},
            {"expires", text_or_null(r[25])},
            {"mac_address", r[2].as<std::string>()},
            {"image_id", r[3].as<std::int64_t>()},
            {"image_name", r[4].as<std::string>()},
            {"template_id", r[5].as<std::int64_t>()},
            {"template_name", r[6].as<std::string>()},
            {"custom_template_id", nullptr},
            {"is_standard_template", true},
            {"ssh_key_id", int_or_null(r[27])},
            {"ssh_key_name", text_or_null(r[28])},
            {"ip_addresses", r[24].is_null() ? json::array() : json::parse(r[24].c_str())},
            {"running_state", running_state(r)},
            {"auto_renewal_enabled", r[26].as<bool>()},
            {"cpu", r[7].as<std::int64_t>()},
            {"memory", r[8].as<std::int64_t>() * k_mib},
            {"disk_size", r[9].as<std::int64_t>() * k_gib},
            {"disk_type", r[10].as<std::string>()},
            {"disk_interface", r[11].as<std::string>()},
            {"host_id", int_or_null(r[12])},
            {"user_id", r[16].as<std::int64_t>()},
            {"user_pubkey", r[17].is_null() ? "" : r[17].as<std::string>()},
            {"user_email", text_or_null(r[18])},
            {"host_name", text_or_null(r[13])},
            {"region_id", int_or_null(r[14])},
            {"region_name", text_or_null(r[15])},
            {"deleted", r[19].as<bool>()},
            {"ref_code", text_or_null(r[29])}};
}

struct vm_filter {
    std::optional<std::int64_t> user_id;
    std::optional<std::int64_t> host_id;
    std::optional<std::string> pubkey;
    std::optional<std::int64_t> region_id;
    bool include_deleted = false;
};

vm_filter parse_filter(const http::request& req) {
    vm_filter f{query_id(req, "user_id"), query_id(req, "host_id"), query_param(req, "pubkey"),
                query_id(req, "region_id"), query_bool(req, "include_deleted").value_or(false)};
    if (f.pubkey && !is_hex64(*f.pubkey)) {
        throw bad_request("pubkey must be 64 hex characters", {{"field", "pubkey"}});
    }
    return f;
}

const std::string k_history_select =
    "SELECT v.id, v.vm_id, v.action_type, " + store::iso8601("v.at") +
    ", v.initiated_by_user, u.pubkey, u.email, v.description FROM vm_history v "
    "LEFT JOIN users u ON u.id = v.initiated_by_user ";

json history_json(const pqxx::row& r) {
    return {{"id", r[0].as<std::int64_t>()},
            {"vm_id", r[1].as<std::int64_t>()},
            {"action_type", r[2].as<std::string>()},
            {"timestamp", r[3].as<std::string>()},
            {"initiated_by_user", int_or_null(r[4])},
            {"initiated_by_user_pubkey", text_or_null(r[5])},
            {"initiated_by_user_email", text_or_null(r[6])},
            {"description", text_or_null(r[7])}};
}

void add_power_route(endpoints& api, services& s, const std::string& action) {
    api.add(verb::post, "/vms/{id}/" + action, access::op("virtual_machines::update"),
            [&s, action](http::request&, const path_params& p,
                         call& c) -> asio::awaitable<http::response> {
                const auto id = id_param(p, "id");
                auto act = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    const auto vm = lock_vm(tx, id);
                    if (!instances::power_allowed(action, vm.status)) {
                        throw conflict("invalid_state",
                                       "cannot " + action + " a VM that is " + vm.status);
                    }
                    const auto job =
                        enqueued_or_busy(instances::request_power(tx, caller(c), vm.ref, action));
                    audit::record(tx, c.who, c.request_id,
                                  {"vm." + action, "vm", std::to_string(id),
                                   json{{"status", vm.status}}, json{{"job_id", job.uid}}});
                    tx.commit();
                    return job.uid;
                };
                const std::string job = co_await s.db.run(act);
                co_return json_reply(admin_data({{"job_id", job}}));
            });
}

}  // namespace

json read_vm(pqxx::work& tx, std::int64_t id) {
    return read_one(tx, k_vm_select + "WHERE i.id = $1", id, "vm_not_found", "VM not found",
                    vm_json);
}

void add_vm_routes(endpoints& api, services& s) {
    api.add(verb::get, "/vms", access::op("virtual_machines::view"),
            [&s](http::request& req, const path_params&, call&) -> asio::awaitable<http::response> {
                const auto page = page_params(req);
                const vm_filter f = parse_filter(req);
                auto list = [&page, &f](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    json items = json::array();
                    for (const auto& r : tx.exec_params(
                             k_vm_select + k_vm_filter + "ORDER BY i.id LIMIT $6 OFFSET $7",
                             f.user_id, f.host_id, f.pubkey, f.region_id, f.include_deleted,
                             page.limit, page.offset)) {
                        items.push_back(vm_json(r));
                    }
                    const auto total =
                        tx.exec_params1("SELECT count(*) " + k_vm_from + k_vm_filter, f.user_id,
                                        f.host_id, f.pubkey, f.region_id, f.include_deleted)[0]
                            .as<std::int64_t>();
                    return admin_page(std::move(items), total, page.limit, page.offset);
                };
                const json out = co_await s.db.run(list);
                co_return json_reply(out);
            });
    add_get_route(api, s, "/vms/{id}", "virtual_machines::view", read_vm);
    add_vm_create_route(api, s);

    add_power_route(api, s, "start");
    add_power_route(api, s, "stop");

    api.add(
        verb::delete_, "/vms/{id}", access::op("virtual_machines::delete"),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const auto id = id_param(p, "id");
            const auto reason = bounded_string(json_body(req), "reason", 0, 500);
            auto remove = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const auto vm = lock_vm(tx, id);
                if (vm.status == "deleted") {
                    throw conflict("invalid_state", "the VM is already deleted");
                }
                const auto job = enqueued_or_busy(instances::request_delete(tx, caller(c), vm.ref));
                audit::record(tx, c.who, c.request_id,
                              {"vm.delete", "vm", std::to_string(id), json{{"status", vm.status}},
                               json{{"job_id", job.uid},
                                    {"reason", reason ? json(*reason) : json(nullptr)}}});
                tx.commit();
                return job.uid;
            };
            const std::string job = co_await s.db.run(remove);
            co_return json_reply(admin_data({{"job_id", job}}));
        });

    api.add(
        verb::get, "/vms/{vm_id}/history", access::op("virtual_machines::view"),
        [&s](http::request& req, const path_params& p, call&) -> asio::awaitable<http::response> {
            const auto vm_id = id_param(p, "vm_id");
            const auto page = page_params(req);
            auto list = [&page, vm_id](pqxx::connection& conn) {
                pqxx::work tx(conn);
                require_vm(tx, vm_id);
                json items = json::array();
                for (const auto& r :
                     tx.exec_params(k_history_select +
                                        "WHERE v.vm_id = $1 ORDER BY v.id DESC LIMIT $2 OFFSET $3",
                                    vm_id, page.limit, page.offset)) {
                    items.push_back(history_json(r));
                }
                const auto total =
                    tx.exec_params1("SELECT count(*) FROM vm_history WHERE vm_id = $1", vm_id)[0]
                        .as<std::int64_t>();
                return admin_page(std::move(items), total, page.limit, page.offset);
            };
            const json out = co_await s.db.run(list);
            co_return json_reply(out);
        });

    api.add(verb::get, "/vms/{vm_id}/history/{history_id}", access::op("virtual_machines::view"),
            [&s](http::request&, const path_params& p, call&) -> asio::awaitable<http::response> {
                const auto vm_id = id_param(p, "vm_id");
                const auto history_id = id_param(p, "history_id");
                auto read = [vm_id, history_id](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    const auto rows = tx.exec_params(
                        k_history_select + "WHERE v.vm_id = $1 AND v.id = $2", vm_id, history_id);
                    if (rows.empty()) {
                        throw not_found("history_not_found", "VM history entry not found");
                    }
                    return history_json(rows[0]);
                };
                const json entry = co_await s.db.run(read);
                co_return json_reply(admin_data(entry));
            });
}

}  // namespace vpsfleet::api::admin
