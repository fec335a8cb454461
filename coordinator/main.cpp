// vpsfleet-coordinator: the control plane daemon and its administrative subcommands.
#include "common/build_info.hpp"
#include "common/daemon.hpp"
#include "common/log.hpp"
#include "common/systemd_notify.hpp"
#include "coordinator/auth/first_admin.hpp"
#include "coordinator/config.hpp"
#include "coordinator/fleet/commands.hpp"
#include "coordinator/fleet/fleet_ca.hpp"
#include "coordinator/fleet/join_tokens.hpp"
#include "coordinator/service.hpp"
#include "coordinator/store/migrations.hpp"

#include <sys/stat.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace vpsfleet;

constexpr const char* k_usage = R"(usage:
  vpsfleet-coordinator [--config PATH]            run the coordinator
  vpsfleet-coordinator check-config [--config PATH]
  vpsfleet-coordinator migrate [--config PATH]    apply database migrations and exit
  vpsfleet-coordinator create-admin --email EMAIL [--credentials-file PATH] [--config PATH]
                                                  create the first admin with a generated password
  vpsfleet-coordinator join-token create [--region NAME] [--ttl 1h] [--config PATH]
                                                  print a single-use token an agent enrolls with
  vpsfleet-coordinator command send --host NAME --kind KIND [--args JSON] [--timeout 30s] [--config PATH]
                                                  send a command to a host's agent and wait for its result
  vpsfleet-coordinator --version
The default configuration file is /etc/vpsfleet/coordinator.yaml.
)";

struct command_line {
    std::string command = "run";
    std::map<std::string, std::string> options;
};

// Parses "[command] --key value ..."; unknown options are rejected by the caller.
bool parse(int argc, char** argv, command_line& out) {
    int i = 1;
    if (i < argc && argv[i][0] != '-') out.command = argv[i++];
    if ((out.command == "join-token" || out.command == "command") && i < argc && argv[i][0] != '-')
        out.command += std::string(" ") + argv[i++];
    for (; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg == "--version" || arg == "--help") {
            out.options[arg] = "";
            continue;
        }
        if (!arg.starts_with("--") || i + 1 >= argc) return false;
        out.options[arg] = argv[++i];
    }
    return true;
}

bool only_known(const command_line& cl, const std::vector<std::string>& allowed) {
    for (const auto& [key, value] : cl.options) {
        if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
            std::cerr << "vpsfleet-coordinator: unknown option " << key << " for '" << cl.command
                      << "'\n"
                      << k_usage;
            return false;
        }
    }
    return true;
}

int run_daemon(const coordinator::coordinator_config& cfg) {
    boost::asio::io_context io;
    coordinator::service svc(io, cfg);
    try {
        svc.start();
    } catch (const std::exception& e) {
        log::error("cannot start", {{"error", e.what()}});
        return daemon::exit_failure;
    }
    log::info("coordinator started", {{"version", build::version}, {"commit", build::commit}});
    systemd::supervisor supervisor(
        io, [&svc] { return svc.ready(); }, "serving");
    supervisor.start();
    const int code =
        daemon::run(io, {cfg.io_threads, std::chrono::milliseconds(4000)}, [&svc, &supervisor] {
            supervisor.stop();
            svc.stop();
        });
    log::info("coordinator stopped", {{"exit_code", code}});
    return code;
}

int run_migrate(const coordinator::coordinator_config& cfg) {
    pqxx::connection conn(
        store::with_connect_timeout(cfg.database.url, cfg.database.connect_timeout));
    const auto report = store::apply_migrations(conn, store::embedded_migrations());
    std::cout << "migrations applied now: " << report.applied_now
              << ", already applied: " << report.already_applied << "\n";
    return daemon::exit_ok;
}

int run_join_token_create(const coordinator::coordinator_config& cfg, const command_line& cl) {
    const auto region =
        cl.options.contains("--region") ? cl.options.at("--region") : std::string("default");
    std::chrono::milliseconds ttl = std::chrono::hours(1);
    if (auto it = cl.options.find("--ttl"); it != cl.options.end()) {
        auto parsed = config::parse_duration(it->second);
        if (!parsed || *parsed < std::chrono::minutes(1) || *parsed > std::chrono::hours(24 * 30)) {
            std::cerr << "vpsfleet-coordinator: --ttl must be a duration between 1m and 30d, such "
                         "as 1h\n";
            return daemon::exit_usage;
        }
        ttl = *parsed;
    }
    pqxx::connection conn(
        store::with_connect_timeout(cfg.database.url, cfg.database.connect_timeout));
    store::apply_migrations(conn, store::embedded_migrations());
    try {
        const auto token = fleet::create_join_token(
            conn, region, std::chrono::duration_cast<std::chrono::seconds>(ttl));
        const auto ca = fleet::load_or_create_ca(cfg.fleet);
        std::cout << token.token << "\n";
        std::cerr << "single use, region " << token.region << ", expires in " << ttl.count() / 1000
                  << " s\nenroll with: vpsfleet-agent enroll --coordinator https://"
                  << cfg.fleet.server_names.front() << ":" << cfg.fleet.listen.port << " --token "
                  << token.token << " --ca-fingerprint " << ca.fingerprint << "\n";
    } catch (const fleet::unknown_region& e) {
        std::cerr << "vpsfleet-coordinator: " << e.what() << "\n";
        return daemon::exit_usage;
    }
    return daemon::exit_ok;
}

// Submits through the commands table (any coordinator holding the host's link sends it) and
// waits for the completion notification.
int run_command_send(const coordinator::coordinator_config& cfg, const command_line& cl) {
    const auto host = cl.options.find("--host");
    const auto kind = cl.options.find("--kind");
    if (host == cl.options.end() || kind == cl.options.end()) {
        std::cerr << "vpsfleet-coordinator: command send needs --host and --kind\n";
        return daemon::exit_usage;
    }
    nlohmann::json args = nlohmann::json::object();
    if (auto it = cl.options.find("--args"); it != cl.options.end()) {
        args = nlohmann::json::parse(it->second, nullptr, false);
        if (!args.is_object()) {
            std::cerr << "vpsfleet-coordinator: --args must be a JSON object\n";
            return daemon::exit_usage;
        }
    }
    auto timeout = std::chrono::milliseconds(30'000);
    if (auto it = cl.options.find("--timeout"); it != cl.options.end()) {
        auto parsed = config::parse_duration(it->second);
        if (!parsed || parsed->count() <= 0) {
            std::cerr << "vpsfleet-coordinator: --timeout must be a duration such as 30s\n";
            return daemon::exit_usage;
        }
        timeout = *parsed;
    }
    pqxx::connection conn(
        store::with_connect_timeout(cfg.database.url, cfg.database.connect_timeout));
    std::int64_t host_id = 0;
    {
        pqxx::read_transaction tx(conn);
        const auto rows =
            tx.exec_params("SELECT id FROM hosts WHERE lower(name) = lower($1)", host->second);
        if (rows.empty()) {
            std::cerr << "vpsfleet-coordinator: no host named '" << host->second << "'\n";
            return daemon::exit_usage;
        }
        host_id = rows[0][0].as<std::int64_t>();
    }
    struct done_receiver : pqxx::notification_receiver {
        using pqxx::notification_receiver::notification_receiver;
        void operator()(const std::string& payload, int) override {
            if (payload == target) done = true;
        }
        std::string target;
        bool done = false;
    } done(conn, fleet::k_command_done_channel);
    const auto deadline = std::chrono::system_clock::now() + timeout;
    done.target = fleet::submit_command(conn, host_id, kind->second, args, deadline);
    // The liveness sweep expires it at the deadline and notifies; a second is enough slack.
    while (!done.done && std::chrono::system_clock::now() < deadline + std::chrono::seconds(2)) {
        conn.await_notification(0, 200'000);
    }
    const auto state = fleet::load_command(conn, done.target);
    nlohmann::json out{{"id", done.target},
                       {"state", state->state},
                       {"attempts", state->attempts},
                       {"result", state->result},
                       {"error", state->error}};
    std::cout << out.dump() << "\n";
    return state->state == "completed" ? daemon::exit_ok : daemon::exit_failure;
}

int run_create_admin(const coordinator::coordinator_config& cfg, const command_line& cl) {
    auto email = cl.options.find("--email");
    if (email == cl.options.end() || email->second.find('@') == std::string::npos) {
        std::cerr << "vpsfleet-coordinator: create-admin needs --email with a valid address\n";
        return daemon::exit_usage;
    }
    pqxx::connection conn(
        store::with_connect_timeout(cfg.database.url, cfg.database.connect_timeout));
    store::apply_migrations(conn, store::embedded_migrations());
    auto created = auth::create_first_admin(conn, email->second);
    if (!created) {
        std::cout << "an admin account already exists; nothing created\n";
        return daemon::exit_ok;
    }
    std::cout << "admin email:    " << created->email << "\n"
              << "admin password: " << created->password << "\n";
    if (auto file = cl.options.find("--credentials-file"); file != cl.options.end()) {
        const mode_t old_mask = umask(077);
        std::ofstream out(file->second, std::ios::trunc);
        umask(old_mask);
        out << "email: " << created->email << "\npassword: " << created->password << "\n";
        if (!out) {
            std::cerr << "vpsfleet-coordinator: cannot write " << file->second << "\n";
            return daemon::exit_failure;
        }
    }
    return daemon::exit_ok;
}

}  // namespace

int main(int argc, char** argv) {
    log::set_component("coordinator");
    command_line cl;
    if (!parse(argc, argv, cl)) {
        std::cerr << k_usage;
        return daemon::exit_usage;
    }
    if (cl.options.contains("--version")) {
        std::cout << "vpsfleet-coordinator " << build::version << " (" << build::commit << ")\n";
        return daemon::exit_ok;
    }
    if (cl.options.contains("--help")) {
        std::cout << k_usage;
        return daemon::exit_ok;
    }
    const std::vector<std::string> common_options{"--config"};
    std::vector<std::string> allowed = common_options;
    if (cl.command == "create-admin") {
        allowed.insert(allowed.end(), {"--email", "--credentials-file"});
    } else if (cl.command == "command send") {
        allowed.insert(allowed.end(), {"--host", "--kind", "--args", "--timeout"});
    } else if (cl.command == "join-token create") {
        allowed.insert(allowed.end(), {"--region", "--ttl"});
    } else if (cl.command != "run" && cl.command != "migrate" && cl.command != "check-config") {
        std::cerr << "vpsfleet-coordinator: unknown command '" << cl.command << "'\n" << k_usage;
        return daemon::exit_usage;
    }
    if (!only_known(cl, allowed)) return daemon::exit_usage;

    const auto config_it = cl.options.find("--config");
    const std::string config_path =
        config_it != cl.options.end() ? config_it->second : "/etc/vpsfleet/coordinator.yaml";
    coordinator::coordinator_config cfg;
    try {
        cfg = coordinator::load_config(config_path);
    } catch (const config::config_error& e) {
        std::cerr << "vpsfleet-coordinator: configuration error: " << e.what() << "\n";
        return daemon::exit_usage;
    }
    log::set_level(cfg.log_level);

    try {
        if (cl.command == "check-config") {
            std::cout << config_path << ": ok\n";
            return daemon::exit_ok;
        }
        if (cl.command == "migrate") return run_migrate(cfg);
        if (cl.command == "create-admin") return run_create_admin(cfg, cl);
        if (cl.command == "join-token create") return run_join_token_create(cfg, cl);
        if (cl.command == "command send") return run_command_send(cfg, cl);
        return run_daemon(cfg);
    } catch (const std::exception& e) {
        std::cerr << "vpsfleet-coordinator: " << e.what() << "\n";
        return daemon::exit_failure;
    }
}
