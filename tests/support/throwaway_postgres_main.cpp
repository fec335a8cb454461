// vpsfleet-throwaway-pg: runs a throwaway PostgreSQL in the foreground for the local fleet and
// scripts. Prints "url=<connection string>" once it accepts connections; SIGTERM/SIGINT stop it.
#include "tests/support/throwaway_postgres.hpp"

#include <signal.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
    vpsfleet::testing::postgres_options options;
    options.durable = true;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (arg == "--dir" && i + 1 < argc) {
            options.data_dir = argv[++i];
            options.keep_data = true;
        } else if (arg == "--port" && i + 1 < argc) {
            options.port = static_cast<std::uint16_t>(std::stoi(argv[++i]));
        } else {
            std::cerr << "usage: vpsfleet-throwaway-pg [--dir DATA_DIR] [--port PORT]\n";
            return 2;
        }
    }
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    try {
        vpsfleet::testing::throwaway_postgres pg(options);
        std::cout << "url=" << pg.url() << std::endl;
        int signo = 0;
        sigwait(&stop_signals, &signo);
        pg.stop();
    } catch (const std::exception& e) {
        std::cerr << "vpsfleet-throwaway-pg: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
