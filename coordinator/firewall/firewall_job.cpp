#include "coordinator/firewall/firewall_job.hpp"

#include "coordinator/firewall/rule_store.hpp"
#include "coordinator/jobs/fleet_step.hpp"

#include <chrono>
#include <limits>
#include <thread>

namespace vpsfleet::firewall {

using json = nlohmann::json;
using jobs::step_context;
using jobs::step_failed;
using namespace std::chrono_literals;

namespace {

constexpr auto k_command_timeout = std::chrono::milliseconds(2min);
// pg_try_advisory_xact_lock(class, key): the class keeps these apart from other advisory locks.
constexpr int k_lock_class = 0x66770000;

struct target {
    std::string uid;
    std::string status;
    std::optional<std::int64_t> host_id;
    std::string host_name;
    std::string vm;  // libvirt UUID
    std::string mac;
};

std::int64_t instance_id(const step_context& ctx) {
    return ctx.args().at("instance_id").get<std::int64_t>();
}

// Waits until no other firewall change of this instance is being applied; held until the step
// commits or rolls back.
void lock_instance_firewall(step_context& ctx, std::int64_t id) {
    const int key = static_cast<int>(id % std::numeric_limits<int>::max());
    bool said = false;
    while (!ctx.tx()
                .exec_params1("SELECT pg_try_advisory_xact_lock($1, $2)", k_lock_class, key)[0]
                .as<bool>()) {
        if (!said) ctx.progress("Waiting for an earlier firewall change of this instance");
        said = true;
        ctx.check();
        std::this_thread::sleep_for(100ms);
    }
}

target read_target(pqxx::transaction_base& tx, std::int64_t id) {
    const auto r = tx.exec_params1(
        "SELECT i.uid, i.status, i.host_id, COALESCE(h.name, ''), i.libvirt_uuid::text, i.mac "
        "FROM instances i LEFT JOIN hosts h ON h.id = i.host_id WHERE i.id = $1",
        id);
    return {r[0].as<std::string>(),
            r[1].as<std::string>(),
            r[2].is_null() ? std::nullopt : std::optional<std::int64_t>(r[2].as<std::int64_t>()),
            r[3].as<std::string>(),
            r[4].as<std::string>(),
            r[5].as<std::string>()};
}

json nothing_to_do(const target& t, const std::string& why) {
    return {{"instance", t.uid}, {"hosts", json::array()}, {"skipped", why}};
}

// The vm.firewall arguments: enabled rules in order, the VM's MAC and its live addresses.
json command_args(pqxx::transaction_base& tx, std::int64_t id, const target& t,
                  std::size_t& enabled) {
    json rules = json::array();
    for (const auto& r : load_rules(tx, id)) {
        if (r.enabled) rules.push_back(to_command_json(r));
    }
    enabled = rules.size();
    json v4 = json::array(), v6 = json::array();
    for (const auto& row : tx.exec_params(
             "SELECT host(ip), family(ip) FROM vm_ip_assignments WHERE instance_id = $1 AND "
             "deleted_at IS NULL ORDER BY ip",
             id))
        (row[1].as<int>() == 4 ? v4 : v6).push_back(row[0].as<std::string>());
    return {{"vm", t.vm}, {"mac", t.mac}, {"ipv4", v4}, {"ipv6", v6}, {"rules", rules}};
}

json apply(step_context& ctx, bool fresh_vm) {
    const auto id = instance_id(ctx);
    lock_instance_firewall(ctx, id);
    auto& tx = ctx.tx();
    const target t = read_target(tx, id);
    if (t.status == "deleting" || t.status == "deleted")
        return nothing_to_do(t, "the instance is being deleted");
    if (!t.host_id)
        return nothing_to_do(t,
                             "the instance is not on a host yet; instance.create applies its "
                             "rules once it is");
    std::size_t enabled = 0;
    const json args = command_args(tx, id, t, enabled);
    if (fresh_vm && enabled == 0) return nothing_to_do(t, "no rules");

    ctx.progress("Applying " + std::to_string(enabled) + " firewall rules on " + t.host_name);
    json result;
    try {
        result = jobs::run_fleet_command(ctx, *t.host_id, "vm.firewall", args, k_command_timeout);
    } catch (const step_failed& e) {
        // The VM is not on its host yet (instance.create has not defined it: its firewall step
        // reads the rules after this) or any more (it is being deleted).
        const std::string now = read_target(tx, id).status;
        if (!fresh_vm && e.code == "not_found" &&
            (now == "queued" || now == "installing" || now == "deleting" || now == "deleted"))
            return nothing_to_do(t, "the VM is not on its host while the instance is " + now);
        throw;
    }
    return {{"instance", t.uid},
            {"hosts", json::array({{{"host_id", *t.host_id},
                                    {"host", t.host_name},
                                    {"ok", true},
                                    {"rules", enabled},
                                    {"filter", result.value("filter", json(nullptr))},
                                    {"live", result.value("live", false)}}})}};
}

json sync(step_context& ctx) { return apply(ctx, false); }

}  // namespace

json apply_on_create(step_context& ctx) { return apply(ctx, true); }

jobs::enqueued_job enqueue_sync(pqxx::work& tx, std::int64_t instance_id,
                                const std::string& instance_uid, std::int64_t project_id,
                                std::optional<std::int64_t> user_id) {
    auto job = jobs::enqueue(tx, jobs::new_job{.kind = k_sync_kind,
                                               .args = {{"instance_id", instance_id}},
                                               .created_by_user_id = user_id,
                                               .project_id = project_id,
                                               .target = instance_uid});
    return *job;  // only exclusive jobs are ever refused
}

void add_firewall_job_handlers(jobs::job_runner& runner) {
    runner.add_handler(k_sync_kind, {{{"apply", sync, {}}}});
}

}  // namespace vpsfleet::firewall
