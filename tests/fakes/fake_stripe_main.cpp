// vpsfleet-fake-stripe: the fake Stripe API (fake_stripe.hpp) in the foreground, for the local
// fleet and demos. Prints "fake-stripe listening on <url>" once it accepts requests; with TLS the
// CA to trust is written to <tls-dir>/ca.pem first. SIGTERM/SIGINT stop it.
#include "tests/fakes/fake_stripe.hpp"

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>

namespace {

int usage() {
    std::cerr
        << "usage: vpsfleet-fake-stripe [--port PORT] [--secret-key sk_test_...]\n"
           "         [--webhook-url URL] [--webhook-secret whsec_...] [--webhook-ca PEM_FILE]\n"
           "         (--tls-dir DIR | --plain-http) [--verbose]\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    vpsfleet::testing::fake_stripe_options options;
    std::string tls_dir;
    bool plain = false;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        const bool has_value = i + 1 < argc;
        try {
            if (arg == "--port" && has_value) {
                const int port = std::stoi(argv[++i]);
                if (port < 0 || port > 65535) return usage();
                options.port = static_cast<std::uint16_t>(port);
            } else if (arg == "--secret-key" && has_value) {
                options.secret_key = argv[++i];
            } else if (arg == "--webhook-url" && has_value) {
                options.webhook_url = argv[++i];
            } else if (arg == "--webhook-secret" && has_value) {
                options.webhook_secret = argv[++i];
            } else if (arg == "--webhook-ca" && has_value) {
                std::ifstream in(argv[++i]);
                if (!in.is_open()) return usage();
                options.webhook_ca_pem.assign(std::istreambuf_iterator<char>(in), {});
            } else if (arg == "--tls-dir" && has_value) {
                tls_dir = argv[++i];
            } else if (arg == "--plain-http") {
                plain = true;
            } else if (arg == "--verbose") {
                options.verbose = true;
            } else {
                return usage();
            }
        } catch (const std::exception&) {
            return usage();
        }
    }
    if (plain == !tls_dir.empty()) return usage();  // exactly one of them
    options.tls = !plain;

    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    try {
        vpsfleet::testing::fake_stripe stripe(options);
        if (!tls_dir.empty()) {
            std::filesystem::create_directories(tls_dir);
            const std::string path = tls_dir + "/ca.pem";
            std::ofstream out(path, std::ios::trunc);
            out << stripe.ca_pem();
            out.close();
            if (!out) throw std::runtime_error("cannot write " + path);
        }
        std::cout << "fake-stripe listening on " << stripe.url() << std::endl;
        int signo = 0;
        sigwait(&stop_signals, &signo);
    } catch (const std::exception& e) {
        std::cerr << "vpsfleet-fake-stripe: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
