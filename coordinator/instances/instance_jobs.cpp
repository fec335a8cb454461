#include "coordinator/instances/instance_jobs.hpp"

#include "coordinator/auth/key_ring.hpp"
#include "coordinator/instances/first_boot.hpp"
#include "coordinator/instances/instance_steps.hpp"

#include "common/log.hpp"
#include "coordinator/firewall/firewall_job.hpp"
#include "coordinator/ipam/ip_jobs.hpp"
#include "coordinator/ipam/ipam_error.hpp"
#include "coordinator/jobs/fleet_step.hpp"
#include "coordinator/scheduler/reservations.hpp"

#include <chrono>
#include <variant>

namespace vpsfleet::instances {

using json = nlohmann::json;
using jobs::step_context;
using jobs::step_failed;

namespace {

// Why the job is being undone, as the instance's error.
void mark_failed(step_context& ctx) {
    const json& error = ctx.job().error;
    const std::string code =
        error.is_object() && error.contains("code") ? error["code"].get<std::string>() : "failed";
    const std::string message = error.is_object() && error.contains("message")
                                    ? error["message"].get<std::string>()
                                    : "The operation failed";
    ctx.tx().exec_params(
        "UPDATE instances SET status = 'error', error_code = $2, error_message = $3 "
        "WHERE id = $1 AND deleted_at IS NULL",
        instance_id(ctx), code, message);
}

// Undo commands: a VM that is already gone is what the undo wanted; anything else is logged and
// left for reconciliation rather than blocking the rest of the undo.
void best_effort(step_context& ctx, std::int64_t host, const std::string& kind, const json& args) {
    try {
        jobs::run_fleet_command(ctx, host, kind, args, k_power_timeout);
    } catch (const step_failed& e) {
        if (e.code != "not_found") {
            log::warn(
                "instance undo command failed",
                {{"job", ctx.job().uid}, {"kind", kind}, {"code", e.code}, {"error", e.what()}});
        }
    }
}

// ---- instance.create ---------------------------------------------------------------------

// The instance's addresses, allocated in the step's transaction once the host (and so the region)
// is known. A region without any IP range leaves the NIC on the network's DHCP.
json assign_addresses(step_context& ctx, const ipam::settings& addressing,
                      const scheduler::reservation& held) {
    const auto id = instance_id(ctx);
    auto& tx = ctx.tx();
    const auto mac =
        tx.exec_params1("SELECT mac FROM instances WHERE id = $1", id)[0].as<std::string>();
    json out = json::array();
    try {
        for (const auto& a :
             ipam::assign_for_instance(tx, id, held.host_id, mac, addressing.release_cooldown)) {
            out.push_back(a.ip);
        }
    } catch (const ipam::ipam_error& e) {
        if (e.code != "no_ip_range") {
            scheduler::release(ctx.connection(), held.allocation_id);
            record_error(ctx.connection(), id, e.code, e.what(), true);
            throw step_failed(e.code, e.what());
        }
        log::info("no IP range in the instance's region; its NIC uses DHCP",
                  {{"job", ctx.job().uid}, {"instance", id}});
    }
    return out;
}

json place_instance(step_context& ctx, const ipam::settings& addressing) {
    ctx.progress("Reserving capacity");
    const auto id = instance_id(ctx);
    const std::string owner = "instance:" + std::to_string(id);
    auto& conn = ctx.connection();
    scheduler::reservation held;
    {
        pqxx::read_transaction tx(conn);
        // A step run again after a crash finds the reservation it already took.
        const auto existing = tx.exec_params(
            "SELECT id, host_id, disk_id FROM host_allocations WHERE owner = $1", owner);
        const auto plan = tx.exec_params1(
            "SELECT p.vcpu, p.memory_mb, p.disk_gb FROM instances i JOIN plans p "
            "ON p.id = i.plan_id WHERE i.id = $1",
            id);
        tx.commit();
        if (!existing.empty()) {
            held = {existing[0][0].as<std::int64_t>(), existing[0][1].as<std::int64_t>(),
                    existing[0][2].as<std::int64_t>()};
        } else {
            scheduler::placement_request request;
            request.vcpus = plan[0].as<std::int64_t>();
            request.memory = plan[1].as<std::int64_t>() * 1024 * 1024;
            request.disk = plan[2].as<std::int64_t>() * k_gib;
            auto placed = scheduler::place(conn, request, owner, id);
            if (const auto* no = std::get_if<scheduler::no_fit>(&placed)) {
                const std::string message = scheduler::describe(*no, request);
                record_error(conn, id, "no_capacity", message, true);
                throw step_failed("no_capacity", message);
            }
            held = std::get<scheduler::reservation>(placed);
        }
    }
    auto& tx = ctx.tx();
    const auto pool = tx.exec_params1("SELECT name FROM host_disks WHERE id = $1", held.disk_id)[0]
                          .as<std::string>();
    // Before the instance row is written here: a refusal records its error on another connection.
    const json addresses = assign_addresses(ctx, addressing, held);
    tx.exec_params(
        "UPDATE instances SET status = 'installing', host_id = $2, allocation_id = $3, "
        "error_code = NULL, error_message = NULL WHERE id = $1",
        id, held.host_id, held.allocation_id);
    return {{"allocation_id", held.allocation_id},
            {"host_id", held.host_id},
            {"disk_id", held.disk_id},
            {"pool", pool},
            {"addresses", addresses}};
}

void unplace_instance(step_context& ctx) {
    const auto allocation = ctx.output().at("allocation_id").get<std::int64_t>();
    scheduler::release(ctx.connection(), allocation);
    ipam::release_for_instance(ctx.tx(), instance_id(ctx));
    mark_failed(ctx);
    ctx.tx().exec_params(
        "UPDATE instances SET host_id = NULL, allocation_id = NULL, power_state = 'stopped' "
        "WHERE id = $1",
        instance_id(ctx));
}

// The NIC with the instance's addresses as static ipv4/ipv6 (the first of each family carries the
// default route's gateway); without addresses the agent leaves it on DHCP.
json nic_with_addresses(pqxx::transaction_base& tx, std::int64_t id, const std::string& mac) {
    json nic = {{"network", "default"}, {"mac", mac}};
    for (const auto& a : ipam::instance_addresses(tx, id)) {
        const char* family = a.family == 4 ? "ipv4" : "ipv6";
        json address = {{"cidr", a.ip + "/" + std::to_string(a.prefix)}};
        if (!nic.contains(family)) address["gateway"] = a.gateway;
        nic[family].push_back(address);
    }
    return nic;
}

json define_vm(step_context& ctx, const ipam::settings& addressing) {
    ctx.progress("Creating the virtual machine");
    const auto id = instance_id(ctx);
    const json& placed = ctx.output_of(0);
    json spec;
    {
        pqxx::read_transaction tx(ctx.connection());
        const auto r = tx.exec_params1(
            "SELECT i.uid, i.libvirt_uuid::text, i.mac, p.vcpu, p.memory_mb, p.disk_gb, "
            "img.source_pool, img.source_volume FROM instances i JOIN plans p ON p.id = i.plan_id "
            "JOIN os_images img ON img.id = i.image_id WHERE i.id = $1",
            id);
        const json nic = nic_with_addresses(tx, id, r[2].as<std::string>());
        const auth::secret_box* box =
            addressing.keys ? &addressing.keys->box(ctx.connection()) : nullptr;
        const json cloud_init = first_boot_cloud_init(tx, id, box);
        tx.commit();
        spec = {
            {"name", r[0].as<std::string>()},
            {"uuid", r[1].as<std::string>()},
            {"vcpus", r[3].as<std::int64_t>()},
            {"memory_mib", r[4].as<std::int64_t>()},
            {"disks",
             json::array({{{"pool", placed.at("pool")},
                           {"size_bytes", r[5].as<std::int64_t>() * k_gib},
                           {"image",
                            {{"pool", r[6].as<std::string>()}, {"volume", r[7].as<std::string>()}}},
                           {"clone", "overlay"}}})},
            {"nics", json::array({nic})},
            {"cloud_init", cloud_init}};
    }
    const auto host = placed.at("host_id").get<std::int64_t>();
    return jobs::run_fleet_command(ctx, host, "vm.define", spec, k_define_timeout);
}

void undefine_vm(step_context& ctx) {
    const auto vm = read_instance(ctx.connection(), instance_id(ctx));
    best_effort(ctx, ctx.output_of(0).at("host_id").get<std::int64_t>(), "vm.undefine",
                {{"vm", vm.libvirt_uuid}});
}

json start_vm(step_context& ctx) {
    ctx.progress("Starting the virtual machine");
    const auto vm = read_instance(ctx.connection(), instance_id(ctx));
    return jobs::run_fleet_command(ctx, ctx.output_of(0).at("host_id").get<std::int64_t>(),
                                   "vm.start", {{"vm", vm.libvirt_uuid}}, k_power_timeout);
}

void stop_started_vm(step_context& ctx) {
    const auto vm = read_instance(ctx.connection(), instance_id(ctx));
    best_effort(ctx, ctx.output_of(0).at("host_id").get<std::int64_t>(), "vm.stop",
                {{"vm", vm.libvirt_uuid}});
}

json mark_running(step_context& ctx) {
    const auto uid = ctx.tx()
                         .exec_params1(
                             "UPDATE instances SET status = 'running', power_state = 'running' "
                             "WHERE id = $1 RETURNING uid",
                             instance_id(ctx))[0]
                         .as<std::string>();
    return {{"instance", uid}};
}

// ---- instance.power ----------------------------------------------------------------------

json power(step_context& ctx) {
    const auto id = instance_id(ctx);
    const std::string action = ctx.args().at("action").get<std::string>();
    ctx.progress("Running " + action);
    const auto vm = read_instance(ctx.connection(), id);
    if (!vm.host_id) throw step_failed("invalid_state", "The instance is not on a host");
    json args = {{"vm", vm.libvirt_uuid}};
    json result;
    try {
        result = jobs::run_fleet_command(ctx, *vm.host_id, "vm." + action, args, k_power_timeout);
    } catch (const step_failed& e) {
        record_error(ctx.connection(), id, e.code, e.what(), false);
        throw;
    }
    const bool on = action == "start" || action == "reboot" || action == "reset";
    const char* state = on ? "running" : "stopped";
    ctx.tx().exec_params(
        "UPDATE instances SET status = $2, power_state = $2, error_code = NULL, "
        "error_message = NULL WHERE id = $1 AND status NOT IN ('deleting', 'deleted')",
        id, state);
    return {{"instance", vm.uid}, {"action", action}, {"power_state", state}};
}

// ---- instance.delete ---------------------------------------------------------------------

json stop_for_delete(step_context& ctx) {
    ctx.progress("Stopping the virtual machine");
    const auto vm = read_instance(ctx.connection(), instance_id(ctx));
    if (vm.host_id) best_effort(ctx, *vm.host_id, "vm.stop", {{"vm", vm.libvirt_uuid}});
    return json::object();
}

json undefine_for_delete(step_context& ctx) {
    ctx.progress("Removing the virtual machine and its disks");
    const auto vm = read_instance(ctx.connection(), instance_id(ctx));
    if (!vm.host_id) return json::object();
    try {
        jobs::run_fleet_command(ctx, *vm.host_id, "vm.undefine", {{"vm", vm.libvirt_uuid}},
                                k_power_timeout);
    } catch (const step_failed& e) {
        if (e.code != "not_found") throw;
    }
    return json::object();
}

json release_for_delete(step_context& ctx, const ipam::settings& addressing) {
    const auto vm = read_instance(ctx.connection(), instance_id(ctx));
    if (vm.allocation_id) scheduler::release(ctx.connection(), *vm.allocation_id);
    ipam::remove_instance_access_policies(ctx, addressing, vm.id);
    ipam::release_for_instance(ctx.tx(), vm.id);
    ctx.tx().exec_params(
        "UPDATE instances SET status = 'deleted', power_state = 'stopped', deleted_at = now(), "
        "allocation_id = NULL, root_password = NULL WHERE id = $1",
        vm.id);
    return {{"instance", vm.uid}};
}

}  // namespace

void add_instance_job_handlers(jobs::job_runner& runner, const ipam::settings& addressing) {
    auto place = [addressing](step_context& ctx) { return place_instance(ctx, addressing); };
    auto apply_policies = [addressing](step_context& ctx) {
        return ipam::apply_instance_access_policies(ctx, addressing, instance_id(ctx));
    };
    auto undo_policies = [addressing](step_context& ctx) {
        ipam::undo_instance_access_policies(ctx, addressing);
    };
    auto release = [addressing](step_context& ctx) { return release_for_delete(ctx, addressing); };
    auto define = [addressing](step_context& ctx) { return define_vm(ctx, addressing); };
    runner.add_handler(k_create_kind, {{{"place", place, unplace_instance},
                                        {"access_policy", apply_policies, undo_policies},
                                        {"define", define, undefine_vm},
                                        {"firewall", firewall::apply_on_create, {}},
                                        {"start", start_vm, stop_started_vm},
                                        {"ready", mark_running, {}}}});
    runner.add_handler(k_power_kind, {{{"power", power, {}}}});
    runner.add_handler(k_delete_kind, {{{"stop", stop_for_delete, mark_failed},
                                        {"undefine", undefine_for_delete, {}},
                                        {"release", release, {}}}});
}

}  // namespace vpsfleet::instances
