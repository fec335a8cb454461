#pragma once
// What the agent does with a command: the kinds it knows, run against the hypervisor. Each result
// is a protocol command_result; a kind it does not know is an error result, never a crash.
#include "agent/collector/host_collector.hpp"
#include "protocol/messages.hpp"

#include <boost/asio/awaitable.hpp>

namespace vpsfleet::agent::link {

boost::asio::awaitable<protocol::command_result> run_command(host_collector& hypervisor,
                                                             const protocol::command& cmd);

}  // namespace vpsfleet::agent::link
