#pragma once
// Running a fleet command from a job step: submit it through the commands table and block the job
// worker thread (never an I/O thread) until the command completes, fails or expires. The command
// id is kept in the step's checkpoint, so a step run again after its worker died or was stopped
// waits for the command it already sent instead of sending a second one.
#include "coordinator/jobs/job_runner.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace vpsfleet::jobs {

struct command_outcome {
    std::string command_id;
    std::string state;  // completed, failed, expired, cancelled; "waiting" if the wait gave up
    nlohmann::json result;
    nlohmann::json error;
};

// Waits for a command to reach a final state. Past its deadline plus `expiry_slack` (time for the
// coordinators' sweep to do it) it is marked expired here, in case no sweep is running.
// should_stop is polled a few times a second; when it returns true the wait ends with state
// "waiting".
command_outcome wait_for_command(pqxx::connection& conn, const std::string& command_id,
                                 std::chrono::system_clock::time_point deadline,
                                 const std::function<bool()>& should_stop,
                                 std::chrono::milliseconds expiry_slack = std::chrono::seconds(2));

// For a step: sends `kind` with `args` to the host's agent (once per step, across retries) and
// returns the command's result. Throws step_failed with the command's error code when it fails
// or expires (deadline_passed), job_interrupted when the runner stops meanwhile. Cancellation
// does not end the wait: the command may already be running, so the step finishes and is then
// compensated like any other.
nlohmann::json run_fleet_command(step_context& ctx, std::int64_t host_id, const std::string& kind,
                                 const nlohmann::json& args, std::chrono::milliseconds timeout);

}  // namespace vpsfleet::jobs
