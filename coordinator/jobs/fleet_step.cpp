#include "coordinator/jobs/fleet_step.hpp"

#include "coordinator/fleet/commands.hpp"

namespace vpsfleet::jobs {

namespace {

using std::chrono::system_clock;

long long unix_ms(system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// Without a notification (one lost while reconnecting) the state is read again this often.
constexpr auto k_reread = std::chrono::seconds(2);

// The command a step sent before it could record its id (its worker died in between): the same
// command for the same host, created after the step said it was about to send it.
std::optional<std::string> find_sent(pqxx::connection& conn, const step_context& ctx,
                                     std::int64_t host_id, const std::string& kind,
                                     const nlohmann::json& args) {
    pqxx::read_transaction tx(conn);
    const auto rows = tx.exec_params(
        "SELECT c.id::text FROM commands c, job_steps s WHERE s.job_id = $1 AND s.step_index = "
        "$2 AND c.host_id = $3 AND c.kind = $4 AND c.args = $5::jsonb AND c.created_at >= "
        "s.checkpoint_at ORDER BY c.created_at LIMIT 1",
        ctx.job().lease.job_id, ctx.step_index(), host_id, kind, args.dump());
    if (rows.empty()) return std::nullopt;
    return rows[0][0].as<std::string>();
}

}  // namespace

command_outcome wait_for_command(pqxx::connection& conn, const std::string& command_id,
                                 system_clock::time_point deadline,
                                 const std::function<bool()>& should_stop,
                                 std::chrono::milliseconds expiry_slack) {
    struct done_receiver : pqxx::notification_receiver {
        done_receiver(pqxx::connection& c, std::string target)
            : pqxx::notification_receiver(c, fleet::k_command_done_channel),
              target(std::move(target)) {}
        void operator()(const std::string& payload, int) override {
            if (payload == target) done = true;
        }
        std::string target;
        bool done = false;
    } receiver(conn, command_id);
    // Listening before the first read: a result recorded in between is not missed.
    auto next_read = std::chrono::steady_clock::now();
    for (;;) {
        if (receiver.done || std::chrono::steady_clock::now() >= next_read) {
            receiver.done = false;
            const auto state = fleet::load_command(conn, command_id);
            if (!state) throw std::runtime_error("fleet command " + command_id + " not found");
            if (fleet::is_final(state->state))
                return command_outcome{command_id, state->state, state->result, state->error};
            const auto expires_in = deadline + expiry_slack - system_clock::now();
            if (expires_in <= system_clock::duration::zero()) {
                fleet::expire_commands(conn);
                continue;
            }
            next_read = std::chrono::steady_clock::now() +
                        std::min<std::chrono::steady_clock::duration>(k_reread, expires_in);
        }
        if (should_stop && should_stop()) return command_outcome{command_id, "waiting", {}, {}};
        conn.await_notification(0, 200'000);
    }
}

nlohmann::json run_fleet_command(step_context& ctx, std::int64_t host_id, const std::string& kind,
                                 const nlohmann::json& args, std::chrono::milliseconds timeout) {
    auto& conn = ctx.connection();
    const auto& saved = ctx.checkpoint();
    std::string id;
    system_clock::time_point deadline;
    if (saved.is_object() && saved.contains("command_id")) {
        id = saved["command_id"].get<std::string>();
        deadline = system_clock::time_point(
            std::chrono::milliseconds(saved["deadline_ms"].get<long long>()));
    } else {
        std::optional<std::string> sent;
        if (saved.is_object() && saved.value("sending", false)) {
            sent = find_sent(conn, ctx, host_id, kind, args);
            deadline = system_clock::time_point(
                std::chrono::milliseconds(saved["deadline_ms"].get<long long>()));
        }
        if (!sent) {
            ctx.check();  // nothing sent yet: a cancellation or a stop ends the step here
            deadline = system_clock::now() + timeout;
            ctx.save_checkpoint({{"sending", true}, {"deadline_ms", unix_ms(deadline)}});
            sent = fleet::submit_command(conn, host_id, kind, args, deadline);
        }
        id = *sent;
        ctx.save_checkpoint({{"command_id", id}, {"deadline_ms", unix_ms(deadline)}});
    }
    const auto out = wait_for_command(conn, id, deadline, [&] { return ctx.interrupted(); });
    if (out.state == "waiting") throw job_interrupted("the job runner is stopping");
    if (out.state == "completed") return out.result;
    std::string code = "command_" + out.state;
    std::string message = kind + " on host " + std::to_string(host_id) + ": " + out.state;
    if (out.error.is_object()) {
        code = out.error.value("code", code);
        message = kind + " on host " + std::to_string(host_id) + ": " +
                  out.error.value("message", out.state);
    }
    throw step_failed(code, message);
}

}  // namespace vpsfleet::jobs
