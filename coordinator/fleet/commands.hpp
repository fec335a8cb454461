#pragma once
// Commands for agents, kept in the commands table: submitted with a NOTIFY on
// vpsfleet_commands (payload: host id) so whichever coordinator holds the host's link sends it;
// completed with a NOTIFY on vpsfleet_command_done (payload: command id) so whoever waits wakes.
// Delivery is at least once (open commands are re-sent on every hello); the agent's journal makes
// the effect happen once. Blocking calls: run them through store::database.
#include "protocol/messages.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vpsfleet::fleet {

inline constexpr const char* k_commands_channel = "vpsfleet_commands";
inline constexpr const char* k_command_done_channel = "vpsfleet_command_done";

// Inserts the command and notifies the instance holding the host; returns its id.
std::string submit_command(pqxx::connection& conn, std::int64_t host_id, const std::string& kind,
                           const nlohmann::json& args,
                           std::chrono::system_clock::time_point deadline);

// Commands to send on a link. include_in_flight: also those already sent (a new link after a
// drop); otherwise only those never sent (a notification on a live link).
std::vector<protocol::command> take_commands_to_send(pqxx::connection& conn, std::int64_t host_id,
                                                     bool include_in_flight);

void mark_acked(pqxx::connection& conn, std::int64_t host_id, const std::string& command_id);
void record_progress(pqxx::connection& conn, std::int64_t host_id,
                     const protocol::command_progress& p);
// Records the first result only; later copies (a replay) change nothing.
struct recorded_result {
    std::string kind;
    std::chrono::duration<double> since_submitted;
};
std::optional<recorded_result> record_result(pqxx::connection& conn, std::int64_t host_id,
                                             const protocol::command_result& r);
// Marks open commands past their deadline expired; returns their ids.
std::vector<std::string> expire_commands(pqxx::connection& conn);

struct command_state {
    std::string state;  // pending, sent, running, completed, failed, expired, cancelled
    nlohmann::json result;
    nlohmann::json error;
    nlohmann::json progress;
    int attempts = 0;
};
std::optional<command_state> load_command(pqxx::connection& conn, const std::string& command_id);
bool is_final(const std::string& state);

}  // namespace vpsfleet::fleet
