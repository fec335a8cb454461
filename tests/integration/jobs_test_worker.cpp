// A job runner in a process of its own, for the test that kills a worker mid-job:
// jobs_test_worker DATABASE_URL LEASE_MS. It runs "two_step" jobs whose second step hangs.
#include "tests/integration/jobs_test_handlers.hpp"

#include <chrono>
#include <iostream>
#include <thread>

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: jobs_test_worker DATABASE_URL LEASE_MS\n";
        return 2;
    }
    vpsfleet::jobs::runner_options options;
    options.conninfo = argv[1];
    options.workers = 1;
    options.lease_time = std::chrono::milliseconds(std::stoi(argv[2]));
    options.poll_interval = std::chrono::milliseconds(50);
    options.name = "doomed";
    vpsfleet::jobs::job_runner runner(options);
    runner.add_handler("two_step", vpsfleet::testing::two_step_handler(true));
    runner.start();
    std::cerr << "worker started" << std::endl;
    for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}
