#include "coordinator/ipam/ip_jobs.hpp"

#include "coordinator/store/json_fields.hpp"

#include "common/log.hpp"
#include "coordinator/ipam/access_policy.hpp"
#include "coordinator/ipam/ipam_error.hpp"

namespace vpsfleet::ipam {

using json = nlohmann::json;
using jobs::step_context;
using jobs::step_failed;

namespace {

using store::text_or_null;

std::optional<std::string> text_arg(const json& object, const char* key) {
    const auto it = object.find(key);
    if (it == object.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
}

// Expected IPAM failures end the job with their own code.
jobs::job_step guarded(std::string name, std::function<json(step_context&)> run,
                       std::function<void(step_context&)> undo = {}) {
    auto checked = [run = std::move(run)](step_context& ctx) -> json {
        try {
            return run(ctx);
        } catch (const ipam_error& e) {
            throw step_failed(e.code, e.what());
        }
    };
    return {std::move(name), std::move(checked), std::move(undo)};
}

std::optional<arp_target> read_target(step_context& ctx, std::int64_t assignment_id) {
    pqxx::read_transaction tx(ctx.connection());
    auto target = arp_target_of(tx, assignment_id);
    tx.commit();
    return target;
}

// Adds the entry once across retries: the checkpoint says an add was under way, and a step run
// again after a crash looks for that entry on the router before adding another.
std::string add_entry_once(step_context& ctx, const settings& s, const arp_target& t) {
    json saved = ctx.checkpoint().is_object() ? ctx.checkpoint() : json::object();
    const std::string key = std::to_string(t.assignment_id);
    if (saved.contains(key)) {
        if (saved[key].is_string()) return saved[key].get<std::string>();
        if (auto found = find_arp_entry(ctx.connection(), s, t)) {
            saved[key] = *found;
            ctx.save_checkpoint(saved);
            return *found;
        }
    }
    saved[key] = true;
    ctx.save_checkpoint(saved);
    const std::string ref = add_arp_entry(ctx.connection(), s, t);
    saved[key] = ref;
    ctx.save_checkpoint(saved);
    return ref;
}

void remove_entry_logged(step_context& ctx, const settings& s, const arp_target& t,
                         const std::string& ref) {
    try {
        remove_arp_entry(ctx.connection(), s, t, ref);
    } catch (const ipam_error& e) {
        log::warn("router ARP entry left behind", {{"job", ctx.job().uid},
                                                   {"router", t.router_name},
                                                   {"ip", t.ip},
                                                   {"arp_ref", ref},
                                                   {"code", e.code},
                                                   {"error", e.what()}});
    }
}

// The step between writing an assignment and reporting it done: the range's access policy.
json apply_access_policy(step_context& ctx, const settings& s, std::int64_t assignment_id) {
    const auto target = read_target(ctx, assignment_id);
    if (!target || target->arp_ref) {
        return {{"assignment_id", assignment_id},
                {"arp_ref", target && target->arp_ref ? json(*target->arp_ref) : json(nullptr)},
                {"added", false}};
    }
    const std::string ref = add_entry_once(ctx, s, *target);
    ctx.tx().exec_params("UPDATE vm_ip_assignments SET arp_ref = $2 WHERE id = $1", assignment_id,
                         ref);
    return {{"assignment_id", assignment_id}, {"arp_ref", ref}, {"added", true}};
}

void undo_added_entry(step_context& ctx, const settings& s, std::int64_t assignment_id,
                      const std::string& ref) {
    if (const auto target = read_target(ctx, assignment_id)) {
        remove_entry_logged(ctx, s, *target, ref);
    }
    ctx.tx().exec_params(
        "UPDATE vm_ip_assignments SET arp_ref = NULL WHERE id = $1 AND arp_ref = $2", assignment_id,
        ref);
}

// ---- ip.assign ---------------------------------------------------------------------------

json assign(step_context& ctx, const settings& s) {
    const json& a = ctx.args();
    const auto vm_id = a.at("vm_id").get<std::int64_t>();
    auto& tx = ctx.tx();
    const auto vm =
        tx.exec_params("SELECT mac FROM instances WHERE id = $1 AND deleted_at IS NULL", vm_id);
    if (vm.empty()) {
        throw step_failed("vm_not_found",
                          "VM " + std::to_string(vm_id) + " does not exist or was deleted");
    }
    allocation_request request;
    request.range_id = a.at("ip_range_id").get<std::int64_t>();
    request.instance_id = vm_id;
    request.mac = vm[0][0].as<std::string>();
    request.ip = text_arg(a, "ip");
    request.arp_ref = text_arg(a, "arp_ref");
    request.dns_forward = text_arg(a, "dns_forward");
    request.dns_reverse = text_arg(a, "dns_reverse");
    const auto got = allocate(tx, request, s.release_cooldown);
    return {{"assignment_id", got.assignment_id},
            {"vm_id", vm_id},
            {"ip_range_id", got.range_id},
            {"ip", got.ip}};
}

void undo_assign(step_context& ctx) {
    ctx.tx().exec_params(
        "UPDATE vm_ip_assignments SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL",
        ctx.output().at("assignment_id").get<std::int64_t>());
}

// ---- ip.update ---------------------------------------------------------------------------

json update(step_context& ctx) {
    const auto id = ctx.args().at("assignment_id").get<std::int64_t>();
    const json& changes = ctx.args().at("changes");
    auto& tx = ctx.tx();
    const auto rows = tx.exec_params(
        "SELECT ip_range_id, host(ip), arp_ref, dns_forward, dns_reverse, instance_id "
        "FROM vm_ip_assignments WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
        id);
    if (rows.empty()) {
        throw step_failed("assignment_not_found",
                          "IP assignment " + std::to_string(id) + " does not exist or was deleted");
    }
    const auto& r = rows[0];
    const json before = {{"ip", r[1].as<std::string>()},
                         {"arp_ref", text_or_null(r[2])},
                         {"dns_forward", text_or_null(r[3])},
                         {"dns_reverse", text_or_null(r[4])}};
    json after = before;
    for (const char* key : {"arp_ref", "dns_forward", "dns_reverse"}) {
        if (changes.contains(key)) after[key] = changes[key];
    }
    bool ip_changed = false;
    if (const auto ip = text_arg(changes, "ip")) {
        const auto wanted = parse_address(*ip);
        if (!wanted) throw ipam_error("invalid_address", "'" + *ip + "' is not an IP address");
        if (to_string(*wanted) != before["ip"].get<std::string>()) {
            // The range's lock: the same order as an allocation in it.
            const auto range = read_range(tx, r[0].as<std::int64_t>(), true);
            require_usable(range.rules, *wanted);
            if (address_taken(tx, *wanted, id)) {
                throw ipam_error("ip_taken", to_string(*wanted) + " is already assigned");
            }
            // The old address is released like any other: a row of its own, cooling down.
            tx.exec_params(
                "INSERT INTO vm_ip_assignments (instance_id, ip_range_id, ip, dns_forward, "
                "dns_reverse, created_at, deleted_at) SELECT instance_id, ip_range_id, ip, "
                "dns_forward, dns_reverse, created_at, now() FROM vm_ip_assignments WHERE id = $1",
                id);
            after["ip"] = to_string(*wanted);
            ip_changed = true;
        }
    }
    auto text = [&after](const char* key) {
        return after[key].is_string() ? std::optional(after[key].get<std::string>()) : std::nullopt;
    };
    tx.exec_params(
        "UPDATE vm_ip_assignments SET ip = $2::inet, arp_ref = $3, dns_forward = $4, "
        "dns_reverse = $5 WHERE id = $1",
        id, after["ip"].get<std::string>(), text("arp_ref"), text("dns_forward"),
        text("dns_reverse"));
    return {{"assignment_id", id},
            {"before", before},
            {"after", after},
            {"ip_changed", ip_changed},
            {"arp_ref_given", changes.contains("arp_ref")}};
}

void undo_update(step_context& ctx) {
    const json& out = ctx.output();
    const auto id = out.at("assignment_id").get<std::int64_t>();
    const json& b = out.at("before");
    auto text = [&b](const char* key) {
        return b[key].is_string() ? std::optional(b[key].get<std::string>()) : std::nullopt;
    };
    auto& tx = ctx.tx();
    if (out.value("ip_changed", false)) {
        // Drop the release row the update wrote for the old address.
        tx.exec_params(
            "DELETE FROM vm_ip_assignments WHERE id = (SELECT max(id) FROM vm_ip_assignments "
            "WHERE ip = $1::inet AND deleted_at IS NOT NULL AND instance_id = "
            "(SELECT instance_id FROM vm_ip_assignments WHERE id = $2))",
            b["ip"].get<std::string>(), id);
    }
    tx.exec_params(
        "UPDATE vm_ip_assignments SET ip = $2::inet, arp_ref = $3, dns_forward = $4, "
        "dns_reverse = $5 WHERE id = $1",
        id, b["ip"].get<std::string>(), text("arp_ref"), text("dns_forward"), text("dns_reverse"));
}

// A new address moves the router's entry: the new one is added first, so a router that fails
// leaves the old entry in place; the old one is then removed, or logged if the router fails.
json update_access_policy(step_context& ctx, const settings& s) {
    const json& out = ctx.output_of(0);
    const auto id = out.at("assignment_id").get<std::int64_t>();
    if (!out.value("ip_changed", false) || out.value("arp_ref_given", false)) {
        return {{"assignment_id", id}, {"added", false}};
    }
    const auto target = read_target(ctx, id);
    if (!target) return {{"assignment_id", id}, {"added", false}};
    arp_target fresh = *target;
    fresh.arp_ref.reset();
    const std::string ref = add_entry_once(ctx, s, fresh);
    if (target->arp_ref) remove_entry_logged(ctx, s, *target, *target->arp_ref);
    ctx.tx().exec_params("UPDATE vm_ip_assignments SET arp_ref = $2 WHERE id = $1", id, ref);
    return {{"assignment_id", id}, {"arp_ref", ref}, {"added", true}};
}

// ---- ip.unassign -------------------------------------------------------------------------

// The router first: when it fails, the assignment stays live and the job says why.
json unassign_access_policy(step_context& ctx, const settings& s) {
    const auto id = ctx.args().at("assignment_id").get<std::int64_t>();
    const auto target = read_target(ctx, id);
    if (!target || !target->arp_ref) return {{"removed", false}};
    remove_arp_entry(ctx.connection(), s, *target, *target->arp_ref);
    return {{"removed", true}, {"arp_ref", *target->arp_ref}};
}

json unassign(step_context& ctx) {
    const auto id = ctx.args().at("assignment_id").get<std::int64_t>();
    const bool removed = ctx.output_of(0).value("removed", false);
    const auto rows = ctx.tx().exec_params(
        "UPDATE vm_ip_assignments SET deleted_at = now(), "
        "arp_ref = CASE WHEN $2 THEN NULL ELSE arp_ref END "
        "WHERE id = $1 AND deleted_at IS NULL RETURNING host(ip)",
        id, removed);
    return {{"assignment_id", id},
            {"ip", rows.empty() ? json(nullptr) : json(rows[0][0].as<std::string>())}};
}

}  // namespace

json apply_instance_access_policies(step_context& ctx, const settings& s,
                                    std::int64_t instance_id) {
    std::vector<std::int64_t> ids;
    {
        pqxx::read_transaction tx(ctx.connection());
        for (const auto& a : instance_addresses(tx, instance_id)) ids.push_back(a.assignment_id);
        tx.commit();
    }
    json added = json::array();
    for (const auto id : ids) {
        try {
            const json out = apply_access_policy(ctx, s, id);
            if (out.value("added", false)) added.push_back(out);
        } catch (const ipam_error& e) {
            // What was added for earlier addresses is in the checkpoint; take it back.
            const json saved = ctx.checkpoint().is_object() ? ctx.checkpoint() : json::object();
            for (const auto& [key, ref] : saved.items()) {
                if (!ref.is_string()) continue;
                if (const auto target = read_target(ctx, std::stoll(key))) {
                    remove_entry_logged(ctx, s, *target, ref.get<std::string>());
                }
            }
            throw step_failed(e.code, e.what());
        }
    }
    return {{"added", added}};
}

void undo_instance_access_policies(step_context& ctx, const settings& s) {
    const json& out = ctx.output();
    if (!out.is_object() || !out.contains("added")) return;
    for (const auto& a : out["added"]) {
        undo_added_entry(ctx, s, a.at("assignment_id").get<std::int64_t>(),
                         a.at("arp_ref").get<std::string>());
    }
}

void remove_instance_access_policies(step_context& ctx, const settings& s,
                                     std::int64_t instance_id) {
    std::vector<std::int64_t> ids;
    {
        pqxx::read_transaction tx(ctx.connection());
        for (const auto& a : instance_addresses(tx, instance_id)) ids.push_back(a.assignment_id);
        tx.commit();
    }
    for (const auto id : ids) {
        const auto target = read_target(ctx, id);
        if (!target || !target->arp_ref) continue;
        remove_entry_logged(ctx, s, *target, *target->arp_ref);
        ctx.tx().exec_params("UPDATE vm_ip_assignments SET arp_ref = NULL WHERE id = $1", id);
    }
}

void add_ip_job_handlers(jobs::job_runner& runner, const settings& s) {
    runner.add_handler(
        k_assign_kind,
        {{guarded(
              "assign", [s](step_context& ctx) { return assign(ctx, s); }, undo_assign),
          guarded(
              "access_policy",
              [s](step_context& ctx) {
                  return apply_access_policy(
                      ctx, s, ctx.output_of(0).at("assignment_id").get<std::int64_t>());
              },
              [s](step_context& ctx) {
                  const json& out = ctx.output();
                  if (out.value("added", false)) {
                      undo_added_entry(ctx, s, out.at("assignment_id").get<std::int64_t>(),
                                       out.at("arp_ref").get<std::string>());
                  }
              })}});
    runner.add_handler(
        k_update_kind,
        {{guarded("update", update, undo_update),
          guarded(
              "access_policy", [s](step_context& ctx) { return update_access_policy(ctx, s); },
              [s](step_context& ctx) {
                  const json& out = ctx.output();
                  if (out.value("added", false)) {
                      undo_added_entry(ctx, s, out.at("assignment_id").get<std::int64_t>(),
                                       out.at("arp_ref").get<std::string>());
                  }
              })}});
    runner.add_handler(k_unassign_kind,
                       {{guarded("access_policy",
                                 [s](step_context& ctx) { return unassign_access_policy(ctx, s); }),
                         guarded("unassign", unassign)}});
}

}  // namespace vpsfleet::ipam
