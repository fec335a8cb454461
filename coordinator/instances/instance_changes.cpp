#include "coordinator/instances/instance_changes.hpp"

#include "coordinator/auth/key_ring.hpp"
#include "coordinator/instances/first_boot.hpp"
#include "coordinator/instances/instance_steps.hpp"
#include "coordinator/jobs/fleet_step.hpp"

namespace vpsfleet::instances {

using json = nlohmann::json;
using jobs::step_context;
using jobs::step_failed;

namespace {

// How long a guest gets to shut down by ACPI before it is powered off, to take a new size.
constexpr std::int64_t k_resize_shutdown_ms = 60'000;

std::int64_t placed_host(const instance_row& vm) {
    if (!vm.host_id) throw step_failed("invalid_state", "The instance is not on a host");
    return *vm.host_id;
}

// Sends one command for the instance's change; a refusal is recorded on the instance (which keeps
// running as it was) and fails the job.
json change_command(step_context& ctx, const std::string& kind, json args,
                    std::chrono::milliseconds timeout, bool broken_on_failure = false) {
    const auto vm = read_instance(ctx.connection(), instance_id(ctx));
    const auto host = placed_host(vm);
    args["vm"] = vm.libvirt_uuid;
    try {
        return jobs::run_fleet_command(ctx, host, kind, args, timeout);
    } catch (const step_failed& e) {
        record_error(ctx.connection(), vm.id, e.code, e.what(), broken_on_failure);
        throw;
    }
}

bool was_running(step_context& ctx) { return ctx.args().value("running", false); }

void clear_error(step_context& ctx, const char* status) {
    ctx.tx().exec_params(
        "UPDATE instances SET error_code = NULL, error_message = NULL, "
        "status = COALESCE($2, status), power_state = COALESCE($2, power_state) "
        "WHERE id = $1 AND status NOT IN ('deleting', 'deleted')",
        instance_id(ctx), status ? std::optional<std::string>(status) : std::nullopt);
}

// ---- instance.resize ---------------------------------------------------------------------
// A running guest is shut down first (ACPI, then forced): more vCPUs or memory than it was
// started with, and on some hypervisors a bigger disk, only take effect from a cold start.

json shutdown_to_resize(step_context& ctx) {
    if (!was_running(ctx)) return {{"shutdown", false}};
    ctx.progress("Shutting the virtual machine down for the new size");
    change_command(ctx, "vm.shutdown", {{"timeout_ms", k_resize_shutdown_ms}},
                   std::chrono::milliseconds(k_resize_shutdown_ms) + k_power_timeout);
    ctx.tx().exec_params(
        "UPDATE instances SET power_state = 'stopped' WHERE id = $1 AND status = 'running'",
        instance_id(ctx));
    return {{"shutdown", true}};
}

// The resize failed after the guest was shut down for it: it runs again, as it was.
void start_after_failed_resize(step_context& ctx) {
    if (!ctx.output().value("shutdown", false)) return;
    const auto vm = read_instance(ctx.connection(), instance_id(ctx));
    try {
        jobs::run_fleet_command(ctx, placed_host(vm), "vm.start", {{"vm", vm.libvirt_uuid}},
                                k_power_timeout);
        ctx.tx().exec_params("UPDATE instances SET power_state = 'running' WHERE id = $1", vm.id);
    } catch (const step_failed& e) {
        record_error(ctx.connection(), vm.id, e.code, e.what(), false);
    }
}

json resize_vm(step_context& ctx) {
    ctx.progress("Resizing the virtual machine");
    json plan;
    {
        pqxx::read_transaction tx(ctx.connection());
        const auto r = tx.exec_params1(
            "SELECT p.code, p.vcpu, p.memory_mb, p.disk_gb FROM instances i "
            "JOIN plans p ON p.id = i.plan_id WHERE i.id = $1",
            instance_id(ctx));
        plan = {{"code", r[0].as<std::string>()},
                {"vcpus", r[1].as<std::int64_t>()},
                {"memory_mib", r[2].as<std::int64_t>()},
                {"disk_bytes", r[3].as<std::int64_t>() * k_gib}};
    }
    // The root disk is the VM's first; it only grows (the API refuses smaller plans).
    change_command(ctx, "vm.resize",
                   {{"vcpus", plan["vcpus"]},
                    {"memory_mib", plan["memory_mib"]},
                    {"disks", json::array({{{"index", 0}, {"size_bytes", plan["disk_bytes"]}}})}},
                   k_power_timeout);
    return {{"plan", plan["code"]}};
}

json start_resized(step_context& ctx) {
    if (was_running(ctx)) {
        ctx.progress("Starting the virtual machine");
        change_command(ctx, "vm.start", json::object(), k_power_timeout);
    }
    clear_error(ctx, was_running(ctx) ? "running" : nullptr);
    return {{"instance", read_instance(ctx.connection(), instance_id(ctx)).uid},
            {"plan", ctx.output_of(1).at("plan")}};
}

// ---- instance.rebuild --------------------------------------------------------------------

json reinstall_vm(step_context& ctx, const ipam::settings& addressing) {
    ctx.progress("Reinstalling the root disk");
    json args;
    {
        pqxx::read_transaction tx(ctx.connection());
        const auto r = tx.exec_params1(
            "SELECT img.source_pool, img.source_volume, p.disk_gb FROM instances i "
            "JOIN plans p ON p.id = i.plan_id JOIN os_images img ON img.id = i.image_id "
            "WHERE i.id = $1",
            instance_id(ctx));
        const auth::secret_box* box =
            addressing.keys ? &addressing.keys->box(ctx.connection()) : nullptr;
        args = {{"image", {{"pool", r[0].as<std::string>()}, {"volume", r[1].as<std::string>()}}},
                {"clone", "overlay"},
                {"size_bytes", r[2].as<std::int64_t>() * k_gib},
                {"cloud_init", first_boot_cloud_init(tx, instance_id(ctx), box)},
                {"start", was_running(ctx)}};
    }
    // A rebuild that fails half way may have left the VM without its old disk.
    const json result = change_command(ctx, "vm.reinstall", args, k_define_timeout, true);
    return {{"state", result.value("state", "")}};
}

json mark_rebuilt(step_context& ctx) {
    clear_error(ctx, was_running(ctx) ? "running" : "stopped");
    return {{"instance", read_instance(ctx.connection(), instance_id(ctx)).uid}};
}

// ---- instance.reset_password ---------------------------------------------------------------

json set_password(step_context& ctx, const ipam::settings& addressing) {
    ctx.progress("Setting the password in the guest");
    if (!addressing.keys) throw step_failed("no_keys", "This coordinator cannot open passwords");
    std::string user;
    std::string hash;
    {
        const auto& box = addressing.keys->box(ctx.connection());
        pqxx::read_transaction tx(ctx.connection());
        const auto r = tx.exec_params1(
            "SELECT img.default_user, i.root_password FROM instances i "
            "JOIN os_images img ON img.id = i.image_id WHERE i.id = $1",
            instance_id(ctx));
        if (r[1].is_null()) throw step_failed("no_password", "The instance has no new password");
        const auto plain = box.open(pqxx::binarystring(r[1]).str());
        if (!plain) throw step_failed("no_password", "The stored password cannot be opened");
        user = r[0].as<std::string>();
        hash = sha512_crypt(std::string(plain->begin(), plain->end()));
    }
    change_command(ctx, "vm.guest.set_password", {{"user", user}, {"password_hash", hash}},
                   k_power_timeout);
    clear_error(ctx, nullptr);
    return {{"instance", read_instance(ctx.connection(), instance_id(ctx)).uid}, {"user", user}};
}

}  // namespace

bool idle_for_ops(std::string_view status) { return status == "running" || status == "stopped"; }

std::optional<jobs::enqueued_job> request_resize(pqxx::work& tx,
                                                 std::optional<std::int64_t> user_id,
                                                 const instance_ref& instance) {
    const bool running =
        tx.exec_params1("SELECT status = 'running' FROM instances WHERE id = $1", instance.id)[0]
            .as<bool>();
    return enqueue_exclusive(tx, user_id, instance, k_resize_kind,
                             {{"instance_id", instance.id}, {"running", running}});
}

std::optional<jobs::enqueued_job> request_rebuild(pqxx::work& tx,
                                                  std::optional<std::int64_t> user_id,
                                                  const instance_ref& instance, bool start) {
    auto job = enqueue_exclusive(tx, user_id, instance, k_rebuild_kind,
                                 {{"instance_id", instance.id}, {"running", start}});
    if (job)
        tx.exec_params("UPDATE instances SET status = 'installing' WHERE id = $1", instance.id);
    return job;
}

std::optional<jobs::enqueued_job> request_password_reset(pqxx::work& tx,
                                                         std::optional<std::int64_t> user_id,
                                                         const instance_ref& instance) {
    return enqueue_exclusive(tx, user_id, instance, k_reset_password_kind,
                             {{"instance_id", instance.id}});
}

void add_instance_change_handlers(jobs::job_runner& runner, const ipam::settings& addressing) {
    runner.add_handler(k_resize_kind, {{{"shutdown", shutdown_to_resize, start_after_failed_resize},
                                        {"resize", resize_vm, {}},
                                        {"start", start_resized, {}}}});
    auto reinstall = [addressing](step_context& ctx) { return reinstall_vm(ctx, addressing); };
    runner.add_handler(k_rebuild_kind,
                       {{{"reinstall", reinstall, {}}, {"ready", mark_rebuilt, {}}}});
    auto password = [addressing](step_context& ctx) { return set_password(ctx, addressing); };
    runner.add_handler(k_reset_password_kind, {{{"password", password, {}}}});
}

}  // namespace vpsfleet::instances
