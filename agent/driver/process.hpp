#pragma once
// Runs a helper program (genisoimage, ...) to completion and collects what it printed. Blocks: call
// it from the driver's worker threads only.
#include <string>
#include <vector>

namespace vpsfleet::agent::driver {

struct process_result {
    int exit_code = -1;  // -1 when it could not be started or died by a signal
    std::string output;  // stdout and stderr together
};

// argv[0] is looked up on PATH. Never goes through a shell.
process_result run_process(const std::vector<std::string>& argv);

}  // namespace vpsfleet::agent::driver
