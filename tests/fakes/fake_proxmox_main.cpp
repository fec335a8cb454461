// vpsfleet-fake-proxmox: the fake Proxmox VE node (fake_proxmox.hpp) in the foreground, for demos
// and for an agent configured with `driver: proxmox`. Writes the CA to trust to <tls-dir>/ca.pem,
// then prints "fake-proxmox listening on <url>" and the API token to use. It holds one QEMU
// template (VMID 9000, "debian-12") unless --no-template. SIGTERM/SIGINT stop it.
#include "tests/fakes/fake_proxmox.hpp"

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

namespace {

int usage() {
    std::cerr << "usage: vpsfleet-fake-proxmox --tls-dir DIR [--port PORT] [--node NAME]\n"
                 "         [--token-secret SECRET] [--task-ms MS] [--no-template] [--verbose]\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    vpsfleet::testing::fake_proxmox_options options;
    std::string tls_dir;
    bool template_vm = true;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const bool has_value = i + 1 < argc;
        try {
            if (arg == "--port" && has_value) {
                const int port = std::stoi(argv[++i]);
                if (port < 0 || port > 65535) return usage();
                options.port = static_cast<std::uint16_t>(port);
            } else if (arg == "--node" && has_value) {
                options.node = argv[++i];
            } else if (arg == "--token-secret" && has_value) {
                options.token_secret = argv[++i];
            } else if (arg == "--task-ms" && has_value) {
                options.task_duration = std::chrono::milliseconds(std::stoi(argv[++i]));
            } else if (arg == "--tls-dir" && has_value) {
                tls_dir = argv[++i];
            } else if (arg == "--no-template") {
                template_vm = false;
            } else if (arg == "--verbose") {
                options.verbose = true;
            } else {
                return usage();
            }
        } catch (const std::exception&) {
            return usage();
        }
    }
    if (tls_dir.empty()) return usage();

    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    try {
        vpsfleet::testing::fake_proxmox pve(options);
        if (template_vm) pve.add_template(9000, "debian-12", 2);
        std::filesystem::create_directories(tls_dir);
        const std::string path = tls_dir + "/ca.pem";
        std::ofstream out(path, std::ios::trunc);
        out << pve.ca_pem();
        out.close();
        if (!out) throw std::runtime_error("cannot write " + path);
        std::cout << "fake-proxmox listening on " << pve.url() << "\n"
                  << "node " << pve.node() << ", token " << pve.token_id() << "="
                  << pve.token_secret() << std::endl;
        int signo = 0;
        sigwait(&stop_signals, &signo);
    } catch (const std::exception& e) {
        std::cerr << "vpsfleet-fake-proxmox: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
