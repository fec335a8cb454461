#pragma once
// Process scaffolding shared by both daemons: run an io_context on a few threads until SIGTERM or
// SIGINT, then ask every component to stop and give in-flight work a bounded grace period.
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <functional>

namespace vpsfleet::daemon {

// Exit codes: 0 clean stop, 1 runtime failure, 2 bad command line or configuration.
inline constexpr int exit_ok = 0;
inline constexpr int exit_failure = 1;
inline constexpr int exit_usage = 2;

struct run_options {
    unsigned threads = 2;
    std::chrono::milliseconds grace{4000};
};

// Blocks until the io_context runs out of work. On the first SIGTERM/SIGINT, calls on_stop (on an
// io thread) which must cancel every component's work; if work remains after the grace period the
// io_context is stopped hard. Returns the exit code set with request_exit, or exit_ok.
int run(boost::asio::io_context& io, const run_options& options, std::function<void()> on_stop);

// Lets a component end the process with a failure code (e.g. a migration that cannot apply).
void request_exit(boost::asio::io_context& io, int code);

}  // namespace vpsfleet::daemon
