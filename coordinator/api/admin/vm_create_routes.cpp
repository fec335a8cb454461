#include "coordinator/api/admin/vm_create_routes.hpp"

#include "coordinator/api/admin/fields.hpp"
#include "coordinator/api/admin/role_routes.hpp"
#include "coordinator/api/admin/vm_lookup.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/billing/billing_error.hpp"
#include "coordinator/fleet/reconciliation.hpp"
#include "coordinator/instances/instance_order.hpp"
#include "coordinator/ipam/address.hpp"
#include "coordinator/scheduler/reservations.hpp"

#include "common/log.hpp"
#include "common/secrets.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <regex>

namespace vpsfleet::api::admin {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

constexpr std::int64_t k_mib = 1024LL * 1024;
constexpr std::int64_t k_gib = 1024LL * k_mib;

std::int64_t required_id(const json& body, const std::string& field) {
    const auto value = optional_int(body, field);
    if (!value) throw bad_request(field + " is required", {{"field", field}});
    if (*value <= 0) throw bad_request(field + " must be a positive integer", {{"field", field}});
    return *value;
}

json or_null(const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); }

// Who the VM is for and what it is made of, as both routes' bodies give them.
struct vm_for_user {
    std::int64_t user_id = 0;
    std::int64_t template_id = 0;
    std::int64_t image_id = 0;
    std::optional<std::string> reason;
};

vm_for_user parse_vm_for_user(const json& body) {
    vm_for_user v;
    v.user_id = required_id(body, "user_id");
    v.template_id = required_id(body, "template_id");
    v.image_id = required_id(body, "image_id");
    v.reason = bounded_string(body, "reason", 0, 500);
    return v;
}

// 404 for an unknown (or deleted) user, template or image; a suspended user gets no new VM, and
// the template's disk must hold the image.
void check_vm_for_user(pqxx::work& tx, const vm_for_user& v) {
    const auto user = tx.exec_params("SELECT status FROM users WHERE id = $1", v.user_id);
    if (user.empty() || user[0][0].as<std::string>() == "deleted") {
        throw not_found("user_not_found", "user " + std::to_string(v.user_id) + " not found");
    }
    if (user[0][0].as<std::string>() == "suspended") {
        throw conflict("user_suspended",
                       "user " + std::to_string(v.user_id) + " is suspended; unsuspend them first");
    }
    if (tx.exec_params("SELECT 1 FROM plans WHERE id = $1 AND deleted_at IS NULL", v.template_id)
            .empty()) {
        throw not_found("template_not_found",
                        "VM template " + std::to_string(v.template_id) + " not found");
    }
    if (tx.exec_params("SELECT 1 FROM os_images WHERE id = $1 AND deleted_at IS NULL", v.image_id)
            .empty()) {
        throw not_found("image_not_found", "OS image " + std::to_string(v.image_id) + " not found");
    }
    if (!instances::plan_fits_image(tx, v.template_id, v.image_id)) {
        throw bad_request("VM template " + std::to_string(v.template_id) +
                              "'s disk is smaller than OS image " + std::to_string(v.image_id) +
                              " needs",
                          {{"field", "template_id"}});
    }
}

// The user's first project, where the admin API's VMs of theirs live; one is made for a user who
// has none (an account that never signed in to the customer API).
std::int64_t default_project(pqxx::work& tx, std::int64_t user_id) {
    const auto rows = tx.exec_params(
        "SELECT id FROM projects WHERE owner_user_id = $1 ORDER BY id LIMIT 1", user_id);
    if (!rows.empty()) return rows[0][0].as<std::int64_t>();
    return tx
        .exec_params1(
            "INSERT INTO projects (uid, name, owner_user_id) VALUES ($1, 'My Project', $2) "
            "RETURNING id",
            secrets::random_token("prj_", 9), user_id)[0]
        .as<std::int64_t>();
}

bool name_free(pqxx::work& tx, std::int64_t project_id, const std::string& name) {
    return tx
        .exec_params(
            "SELECT 1 FROM instances WHERE project_id = $1 AND name = $2 AND deleted_at IS NULL",
            project_id, name)
        .empty();
}

std::string random_hex(std::size_t bytes) {
    std::array<unsigned char, 8> b{};
    bytes = std::min(bytes, b.size());
    if (RAND_bytes(b.data(), static_cast<int>(bytes)) != 1)
        throw std::runtime_error("RAND_bytes failed");
    std::string out;
    for (std::size_t i = 0; i < bytes; ++i) {
        char two[3];
        std::snprintf(two, sizeof two, "%02x", b[i]);
        out += two;
    }
    return out;
}

// A hostname label free in the project, from `wanted` (any text): lower case, other characters
// as '-', then "-2", "-3"... when it is taken.
std::string free_name(pqxx::work& tx, std::int64_t project_id, const std::string& wanted) {
    std::string label;
    for (const char ch : wanted) {
        const char c = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        label += (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : '-';
    }
    label = label.substr(0, 56);
    while (!label.empty() && label.front() == '-') label.erase(label.begin());
    while (!label.empty() && label.back() == '-') label.pop_back();
    if (label.empty()) label = "vm";
    if (name_free(tx, project_id, label)) return label;
    for (int n = 2; n < 100; ++n) {
        const std::string candidate = label + "-" + std::to_string(n);
        if (name_free(tx, project_id, candidate)) return candidate;
    }
    return label + "-" + random_hex(3);
}

// What libvirt reports the domain doing, as the instance's power state (reconciliation's rule).
std::string power_of_domain(const std::string& state) {
    if (state == "running" || state == "blocked") return "running";
    if (state == "shutoff" || state == "crashed") return "stopped";
    return "unknown";
}

struct finding {
    std::string kind;
    std::int64_t host_id = 0;
    std::string host_name;
    std::string uuid;
    std::string domain_name;
    bool resolved = false;
};

finding lock_finding(pqxx::work& tx, std::int64_t id) {
    const auto rows = tx.exec_params(
        "SELECT f.kind, f.host_id, h.name, f.domain_uuid, f.resource_name, "
        "f.resolved_at IS NOT NULL FROM drift_findings f JOIN hosts h ON h.id = f.host_id "
        "WHERE f.id = $1 FOR UPDATE OF f",
        id);
    if (rows.empty()) throw not_found("drift_event_not_found", "drift event not found");
    const auto& r = rows[0];
    return {r[0].as<std::string>(), r[1].as<std::int64_t>(), r[2].as<std::string>(),
            r[3].as<std::string>(), r[4].as<std::string>(),  r[5].as<bool>()};
}

}  // namespace

void add_vm_create_route(endpoints& api, services& s) {
    api.add(
        verb::post, "/vms", access::op("virtual_machines::create"),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const json body = json_body(req);
            const vm_for_user v = parse_vm_for_user(body);
            const auto ssh_key_id = required_id(body, "ssh_key_id");
            const auto ref_code = bounded_string(body, "ref_code", 1, 100);
            auto create = [&](pqxx::connection& conn) {
                const auto& box = s.keys.box(conn);
                pqxx::work tx(conn);
                check_vm_for_user(tx, v);
                const auto key = tx.exec_params(
                    "SELECT user_id, public_key FROM account_ssh_keys WHERE id = $1", ssh_key_id);
                if (key.empty()) {
                    throw not_found("ssh_key_not_found",
                                    "SSH key " + std::to_string(ssh_key_id) + " not found");
                }
                if (key[0][0].as<std::int64_t>() != v.user_id) {
                    throw bad_request("SSH key " + std::to_string(ssh_key_id) +
                                          " belongs to another user, not to user " +
                                          std::to_string(v.user_id),
                                      {{"field", "ssh_key_id"}});
                }
                instances::instance_order order;
                order.project_id = default_project(tx, v.user_id);
                order.name = free_name(tx, order.project_id, "vm-" + random_hex(4));
                order.plan_id = v.template_id;
                order.image_id = v.image_id;
                order.password = secrets::random_token("", 15);
                order.ssh_keys = json::array({key[0][1].as<std::string>()});
                order.ssh_key_id = ssh_key_id;
                order.ref_code = ref_code;
                as_actor(tx, c,
                         "by an operator for user " + std::to_string(v.user_id) +
                             (v.reason ? " (" + *v.reason + ")" : std::string()));
                instances::ordered_instance vm;
                try {
                    vm = instances::order_instance(tx, box, s.billing, caller(c), order);
                } catch (const billing::billing_error& e) {
                    throw api_error(http::status::payment_required, "billing_" + e.code,
                                    "the user's credits cannot pay the VM's first period: " +
                                        std::string(e.what()));
                }
                audit::record(tx, c.who, c.request_id,
                              {"vm.create", "vm", std::to_string(vm.id), nullptr,
                               json{{"user_id", v.user_id},
                                    {"template_id", v.template_id},
                                    {"image_id", v.image_id},
                                    {"ssh_key_id", ssh_key_id},
                                    {"ref_code", or_null(ref_code)},
                                    {"reason", or_null(v.reason)},
                                    {"job_id", vm.job.uid}}});
                tx.commit();
                return vm.job.uid;
            };
            const std::string job = co_await s.db.run(create);
            co_return json_reply(admin_data({{"job_id", job}}));
        });
}

void add_drift_import_route(endpoints& api, services& s) {
    api.add(
        verb::post, "/drift/events/{id}/import", access::op("virtual_machines::create"),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const auto id = id_param(p, "id");
            const json body = json_body(req);
            const vm_for_user v = parse_vm_for_user(body);
            // The inventory does not carry NICs: the operator may say the guest's MAC, which the
            // firewall and IP access policies need; without it the VM's MAC is left empty.
            const auto mac = optional_string(body, "mac_address");
            if (mac && !ipam::parse_mac(*mac)) {
                throw bad_request("mac_address must look like 52:54:00:12:34:56",
                                  {{"field", "mac_address"}});
            }
            auto adopt = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                // The host's reconciliation waits for the import (before the finding's lock,
                // which a reconciliation takes after its own).
                const auto host =
                    tx.exec_params("SELECT host_id FROM drift_findings WHERE id = $1", id);
                if (!host.empty()) {
                    fleet::lock_host_reconciliation(tx, host[0][0].as<std::int64_t>());
                }
                const finding f = lock_finding(tx, id);
                if (f.kind != "unmanaged") {
                    throw conflict("invalid_state",
                                   "drift event " + std::to_string(id) + " is a " + f.kind +
                                       " finding; only unmanaged domains can be imported");
                }
                if (f.resolved) {
                    throw conflict("invalid_state",
                                   "drift event " + std::to_string(id) + " is already resolved");
                }
                check_vm_for_user(tx, v);
                static const std::regex k_uuid(
                    "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
                    "$");
                if (!std::regex_match(f.uuid, k_uuid)) {
                    throw conflict("invalid_state", "domain '" + f.domain_name + "' has uuid '" +
                                                        f.uuid + "', which is not a UUID");
                }
                // Two imports of one uuid (from findings on two hosts) take turns here.
                tx.exec_params("SELECT pg_advisory_xact_lock(hashtext('instance uuid ' || $1))",
                               f.uuid);
                const auto claimed = tx.exec_params(
                    "SELECT id FROM instances WHERE libvirt_uuid = $1::uuid AND deleted_at IS NULL",
                    f.uuid);
                if (!claimed.empty()) {
                    throw conflict("domain_claimed", "domain " + f.uuid + " is already VM " +
                                                         claimed[0][0].as<std::string>());
                }
                const auto seen = tx.exec_params(
                    "SELECT state FROM host_domains WHERE host_id = $1 AND uuid = $2", f.host_id,
                    f.uuid);
                if (seen.empty()) {
                    throw conflict("invalid_state", "domain '" + f.domain_name +
                                                        "' is no longer on host " + f.host_name);
                }
                const std::string power = power_of_domain(seen[0][0].as<std::string>());
                const std::string status = power == "running" ? "running" : "stopped";

                const auto project = default_project(tx, v.user_id);
                const std::string name = free_name(tx, project, f.domain_name);
                as_actor(tx, c,
                         "imported from domain '" + f.domain_name + "' on host " + f.host_name +
                             " by an operator" +
                             (v.reason ? " (" + *v.reason + ")" : std::string()));
                const std::string uid = secrets::random_token("ins_", 9);
                const auto vm_id =
                    tx.exec_params1(
                          "INSERT INTO instances (uid, project_id, name, plan_id, image_id, "
                          "status, power_state, host_id, libvirt_uuid, mac) "
                          "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::uuid, $10) RETURNING id",
                          uid, project, name, v.template_id, v.image_id, status, power, f.host_id,
                          f.uuid, mac.value_or(""))[0]
                        .as<std::int64_t>();

                const auto plan = tx.exec_params1(
                    "SELECT vcpu, memory_mb, disk_gb, disk_type, disk_interface FROM plans "
                    "WHERE id = $1",
                    v.template_id);
                scheduler::placement_request request;
                request.vcpus = plan[0].as<std::int64_t>();
                request.memory = plan[1].as<std::int64_t>() * k_mib;
                request.disk = plan[2].as<std::int64_t>() * k_gib;
                request.kind = scheduler::parse_disk_kind(plan[3].as<std::string>());
                request.interface = scheduler::parse_disk_interface(plan[4].as<std::string>());
                const auto held = scheduler::reserve_on_host(
                    tx, f.host_id, request, "instance:" + std::to_string(vm_id), vm_id);
                if (!held) {
                    throw conflict("no_disk", "host " + f.host_name +
                                                  " has no disk to reserve the VM's disk on; "
                                                  "add one with POST /hosts/{id}/disks");
                }
                if (!held->fits) {
                    log::warn("imported VM overcommits its host",
                              {{"vm", vm_id}, {"host", f.host_name}});
                }
                tx.exec_params("UPDATE instances SET allocation_id = $2 WHERE id = $1", vm_id,
                               held->held.allocation_id);
                tx.exec_params(
                    "UPDATE drift_findings SET resolved_at = now(), instance_id = $2, "
                    "acknowledged_by = coalesce(acknowledged_by, $3), "
                    "acknowledged_at = coalesce(acknowledged_at, now()) WHERE id = $1",
                    id, vm_id, caller(c));
                json vm = read_vm(tx, vm_id);
                audit::record(tx, c.who, c.request_id,
                              {"drift.import", "vm", std::to_string(vm_id),
                               json{{"drift_event_id", id},
                                    {"host_id", f.host_id},
                                    {"domain_uuid", f.uuid},
                                    {"domain_name", f.domain_name}},
                               json{{"vm_id", vm_id},
                                    {"user_id", v.user_id},
                                    {"template_id", v.template_id},
                                    {"image_id", v.image_id},
                                    {"power_state", power},
                                    {"overcommitted", !held->fits},
                                    {"reason", or_null(v.reason)}}});
                tx.commit();
                return vm;
            };
            const json vm = co_await s.db.run(adopt);
            co_return json_reply(admin_data(vm));
        });
}

}  // namespace vpsfleet::api::admin
