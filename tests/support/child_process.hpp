#pragma once
// A child process for tests: started with arguments, its stderr collected line by line, waited on
// with timeouts, and killed when the test ends, even if the test process itself dies.
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace vpsfleet::testing {

struct spawn_options {
    // Run as this user (when we are root); empty keeps the current user.
    std::string user;
    // Send the child's stderr to this file instead of collecting it.
    std::string stderr_file;
    // Signal the child receives if the test process dies first.
    int death_signal = 9;
};

class child_process {
  public:
    child_process(std::vector<std::string> argv, spawn_options options = {});
    ~child_process();
    child_process(const child_process&) = delete;
    child_process& operator=(const child_process&) = delete;

    pid_t pid() const { return pid_; }
    void signal(int signo);
    // The exit status (as from WEXITSTATUS, or 128+signal) if the child ended within the timeout.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout);
    // Waits for a stderr line containing `needle`; returns it.
    std::optional<std::string> wait_for_line(const std::string& needle,
                                             std::chrono::milliseconds timeout);
    std::string collected_stderr() const;
    // Waits until the child's stderr is closed and fully read.
    void drain();

  private:
    void read_stderr(int fd);

    pid_t pid_ = -1;
    std::optional<int> exit_status_;
    std::thread reader_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::vector<std::string> lines_;
};

// Runs a command to completion; returns its exit status and combined output.
struct run_result {
    int status = -1;
    std::string output;
};
run_result run_command(const std::vector<std::string>& argv, const spawn_options& options = {});

}  // namespace vpsfleet::testing
