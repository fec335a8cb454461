#include "coordinator/fleet/commands.hpp"

namespace vpsfleet::fleet {

namespace {

long long unix_ms(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

nlohmann::json json_or_null(const pqxx::field& f) {
    return f.is_null() ? nlohmann::json() : nlohmann::json::parse(f.as<std::string>());
}

}  // namespace

bool is_final(const std::string& state) {
    return state == "completed" || state == "failed" || state == "expired" || state == "cancelled";
}

std::string submit_command(pqxx::connection& conn, std::int64_t host_id, const std::string& kind,
                           const nlohmann::json& args,
                           std::chrono::system_clock::time_point deadline) {
    pqxx::work tx(conn);
    const auto id =
        tx.exec_params(
              "INSERT INTO commands (host_id, kind, args, deadline) "
              "VALUES ($1, $2, $3::jsonb, to_timestamp($4 / 1000.0)) RETURNING id::text",
              host_id, kind, args.dump(), unix_ms(deadline))[0][0]
            .as<std::string>();
    tx.exec_params("SELECT pg_notify($1, $2)", k_commands_channel, std::to_string(host_id));
    tx.commit();
    return id;
}

std::vector<protocol::command> take_commands_to_send(pqxx::connection& conn, std::int64_t host_id,
                                                     bool include_in_flight) {
    pqxx::work tx(conn);
    const auto rows = tx.exec_params(
        "UPDATE commands SET state = CASE WHEN state = 'pending' THEN 'sent' ELSE state END, "
        "attempts = attempts + 1, updated_at = now() "
        "WHERE id IN (SELECT id FROM commands WHERE host_id = $1 AND deadline > now() AND "
        "  (state = 'pending' OR ($2 AND state IN ('sent', 'running'))) ORDER BY created_at FOR "
        "UPDATE) "
        "RETURNING id::text, kind, args::text, (extract(epoch FROM deadline) * 1000)::bigint, "
        "created_at",
        host_id, include_in_flight);
    tx.commit();
    std::vector<std::pair<std::string, protocol::command>> ordered;
    for (const auto& row : rows) {
        protocol::command c;
        c.command_id = row[0].as<std::string>();
        c.kind = row[1].as<std::string>();
        c.args = nlohmann::json::parse(row[2].as<std::string>());
        c.deadline = row[3].as<long long>();
        ordered.emplace_back(row[4].as<std::string>(), std::move(c));
    }
    std::sort(ordered.begin(), ordered.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::vector<protocol::command> out;
    for (auto& [created, c] : ordered) out.push_back(std::move(c));
    return out;
}

void mark_acked(pqxx::connection& conn, std::int64_t host_id, const std::string& command_id) {
    pqxx::work tx(conn);
    tx.exec_params(
        "UPDATE commands SET state = 'running', updated_at = now() "
        "WHERE id::text = $1 AND host_id = $2 AND state IN ('pending', 'sent')",
        command_id, host_id);
    tx.commit();
}

void record_progress(pqxx::connection& conn, std::int64_t host_id,
                     const protocol::command_progress& p) {
    pqxx::work tx(conn);
    tx.exec_params(
        "UPDATE commands SET progress = $3::jsonb, updated_at = now() "
        "WHERE id::text = $1 AND host_id = $2 AND state IN ('pending', 'sent', 'running')",
        p.command_id, host_id,
        nlohmann::json{{"step", p.step}, {"total", p.total}, {"message", p.message}}.dump());
    tx.commit();
}

std::optional<recorded_result> record_result(pqxx::connection& conn, std::int64_t host_id,
                                             const protocol::command_result& r) {
    pqxx::work tx(conn);
    const nlohmann::json error =
        r.error ? nlohmann::json{{"code", r.error->code}, {"message", r.error->message}}
                : nlohmann::json();
    const auto rows = tx.exec_params(
        "UPDATE commands SET state = $3, result = $4::jsonb, error = $5::jsonb, completed_at = "
        "now(), "
        "updated_at = now() WHERE id::text = $1 AND host_id = $2 AND state IN ('pending', 'sent', "
        "'running') "
        "RETURNING kind, extract(epoch FROM now() - created_at)::float8",
        r.command_id, host_id, r.ok ? "completed" : "failed", r.result ? r.result->dump() : "null",
        error.dump());
    if (rows.empty()) return std::nullopt;
    tx.exec_params("SELECT pg_notify($1, $2)", k_command_done_channel, r.command_id);
    tx.commit();
    return recorded_result{rows[0][0].as<std::string>(),
                           std::chrono::duration<double>(rows[0][1].as<double>())};
}

std::vector<std::string> expire_commands(pqxx::connection& conn) {
    pqxx::work tx(conn);
    std::vector<std::string> ids;
    for (const auto& row :
         tx.exec("UPDATE commands SET state = 'expired', completed_at = now(), updated_at = now(), "
                 "error = '{\"code\":\"deadline_passed\",\"message\":\"no result before the "
                 "deadline\"}' "
                 "WHERE state IN ('pending', 'sent', 'running') AND deadline <= now() RETURNING "
                 "id::text")) {
        ids.push_back(row[0].as<std::string>());
        tx.exec_params("SELECT pg_notify($1, $2)", k_command_done_channel, ids.back());
    }
    tx.commit();
    return ids;
}

std::optional<command_state> load_command(pqxx::connection& conn, const std::string& command_id) {
    pqxx::read_transaction tx(conn);
    const auto rows = tx.exec_params(
        "SELECT state, result::text, error::text, progress::text, attempts FROM commands WHERE "
        "id::text = $1",
        command_id);
    if (rows.empty()) return std::nullopt;
    return command_state{rows[0][0].as<std::string>(), json_or_null(rows[0][1]),
                         json_or_null(rows[0][2]), json_or_null(rows[0][3]), rows[0][4].as<int>()};
}

}  // namespace vpsfleet::fleet
