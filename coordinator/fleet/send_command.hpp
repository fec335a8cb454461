#pragma once
// Sending a command to a host's agent from coroutine code: the command is persisted (commands
// table, see commands.hpp) and reaches the agent through whichever coordinator holds the host's
// link, now or when the host comes back; the awaitable completes with its outcome once the
// command is final, or with state "expired" once its deadline has passed. No connection or
// thread is held while waiting: the row is re-read with a backoff from 10 ms to 250 ms.
#include "coordinator/store/database.hpp"

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <string>

namespace vpsfleet::fleet {

struct command_outcome {
    std::string command_id;
    std::string state;  // completed, failed, expired or cancelled
    nlohmann::json result;
    nlohmann::json error;
};

boost::asio::awaitable<command_outcome> send_command(
    store::database& db, std::int64_t host_id, std::string kind, nlohmann::json args,
    std::chrono::system_clock::time_point deadline);

}  // namespace vpsfleet::fleet
