#include "coordinator/instances/template_jobs.hpp"

namespace vpsfleet::instances {

namespace {

using json = nlohmann::json;

json remove_template(jobs::step_context& ctx) {
    const auto id = ctx.args().at("template_id").get<std::int64_t>();
    const auto r = ctx.tx().exec_params(
        "SELECT status, backup_snapshot IS NOT NULL FROM templates WHERE id = $1 FOR UPDATE", id);
    if (r.empty()) throw jobs::step_failed("template_not_found", "The template does not exist");
    if (r[0][1].as<bool>()) {
        throw jobs::step_failed("unsupported",
                                "Removing a template's backup snapshot is not supported yet");
    }
    ctx.tx().exec_params(
        "UPDATE templates SET status = 'deleted', deleted_at = now() WHERE id = $1 "
        "AND status <> 'deleted'",
        id);
    return {{"template_id", id}};
}

}  // namespace

void add_template_job_handlers(jobs::job_runner& runner) {
    runner.add_handler(k_template_delete_kind, {{{"remove", remove_template, {}}}});
}

}  // namespace vpsfleet::instances
