// The coordinator binary as an operator runs it: config errors, health, readiness across a
// PostgreSQL restart, metrics that Prometheus accepts, admin bootstrap and clean shutdown.
#include "tests/integration/daemon_fixture.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

using namespace vpsfleet::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

run_result coordinator_cli(std::vector<std::string> args) {
    args.insert(args.begin(), coordinator_bin());
    return run_command(args);
}

}  // namespace

TEST(coordinator_daemon, unknown_key_exits_2_naming_the_key_and_file) {
    temp_file config("database:\n  url: x\n  pol_size: 3\n");
    const auto r = coordinator_cli({"--config", config.path()});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.output.find(config.path() + ": database.pol_size: unknown key"), std::string::npos)
        << r.output;
}

TEST(coordinator_daemon, wrong_type_exits_2_naming_the_key) {
    temp_file config("database:\n  url: x\nio_threads: many\n");
    const auto r = coordinator_cli({"--config", config.path()});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.output.find("io_threads: expected an integer, got 'many'"), std::string::npos)
        << r.output;
}

TEST(coordinator_daemon, missing_config_file_exits_2) {
    const auto r = coordinator_cli({"--config", "/nonexistent/coordinator.yaml"});
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.output.find("/nonexistent/coordinator.yaml: cannot read"), std::string::npos)
        << r.output;
}

TEST(coordinator_daemon, version_and_unknown_option) {
    const auto v = coordinator_cli({"--version"});
    EXPECT_EQ(v.status, 0);
    EXPECT_TRUE(v.output.starts_with("vpsfleet-coordinator 0.")) << v.output;
    EXPECT_EQ(coordinator_cli({"--frobnicate", "1"}).status, 2);
}

TEST(coordinator_daemon, serves_health_readiness_and_a_valid_metrics_scrape) {
    auto d = start_coordinator(fresh_database());
    EXPECT_EQ(d.get("/healthz").status, 200);
    const auto ready = wait_for_status("127.0.0.1", d.port, "/readyz", 200, 20s);
    ASSERT_EQ(ready.status, 200) << ready.body;
    EXPECT_EQ(json::parse(ready.body)["status"], "ready");

    const auto missing = d.get("/api/v1/nothing-here");
    EXPECT_EQ(missing.status, 404);
    EXPECT_EQ(json::parse(missing.body)["error"]["code"], "route_not_found");
    EXPECT_EQ(json::parse(missing.body)["error"]["message"],
              "route not found: GET /api/v1/nothing-here");

    const auto scrape = d.get("/metrics");
    ASSERT_EQ(scrape.status, 200);
    EXPECT_EQ(promtool_problems(scrape.body), "");
    EXPECT_NE(scrape.body.find("vpsfleet_coordinator_build_info{"), std::string::npos);
    EXPECT_NE(
        scrape.body.find(
            R"(vpsfleet_coordinator_http_requests_total{method="GET",route="/readyz",status="200"})"),
        std::string::npos);
    EXPECT_NE(scrape.body.find(R"(route="unmatched",status="404")"), std::string::npos);
    EXPECT_NE(scrape.body.find("vpsfleet_coordinator_http_request_duration_seconds_bucket"),
              std::string::npos);
    EXPECT_NE(scrape.body.find(R"(vpsfleet_coordinator_db_pool_connections{state="capacity"} 8)"),
              std::string::npos);
    EXPECT_EQ(d.terminate(5s), 0);
}

TEST(coordinator_daemon, readiness_follows_postgres_down_and_back_without_restart) {
    throwaway_postgres pg;
    auto d = start_coordinator(pg.url(), "  connect_timeout: 1s\n");
    ASSERT_EQ(wait_for_status("127.0.0.1", d.port, "/readyz", 200, 20s).status, 200);

    // db_up follows the database at each scrape, with nothing polling /readyz.
    auto db_up_becomes = [&d](const char* value) {
        const std::string line = std::string("\nvpsfleet_coordinator_db_up ") + value + "\n";
        for (auto until = std::chrono::steady_clock::now() + 15s;
             std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(100ms)) {
            if (d.get("/metrics").body.find(line) != std::string::npos) return true;
        }
        return false;
    };
    EXPECT_TRUE(db_up_becomes("1"));
    pg.stop();
    EXPECT_TRUE(db_up_becomes("0"));
    const auto down = wait_for_status("127.0.0.1", d.port, "/readyz", 503, 15s);
    EXPECT_EQ(down.status, 503);
    EXPECT_EQ(json::parse(down.body)["status"], "not ready");
    EXPECT_EQ(d.get("/healthz").status, 200);
    // Each probe uses up one pooled connection that died with the server; once they are gone,
    // probes have to connect, and those failures are counted.
    double failures = 0;
    for (int i = 0; i < 30 && failures < 1; ++i) {
        EXPECT_EQ(d.get("/readyz").status, 503);
        const auto scrape = d.get("/metrics").body;
        const auto at = scrape.find("\nvpsfleet_coordinator_db_connect_failures_total ");
        ASSERT_NE(at, std::string::npos) << scrape;
        failures = std::stod(scrape.substr(scrape.find(' ', at + 1) + 1));
    }
    EXPECT_GE(failures, 1.0) << "failed reconnects are counted";

    pg.start();
    EXPECT_TRUE(db_up_becomes("1"));
    EXPECT_EQ(wait_for_status("127.0.0.1", d.port, "/readyz", 200, 20s).status, 200);
    EXPECT_EQ(d.terminate(5s), 0);
}

TEST(coordinator_daemon, starts_before_postgres_and_becomes_ready_when_it_appears) {
    const auto port = free_tcp_port();
    const std::string url =
        "host=127.0.0.1 port=" + std::to_string(port) + " dbname=postgres user=postgres";
    auto d = start_coordinator(url);
    EXPECT_EQ(d.get("/readyz").status, 503);
    postgres_options options;
    options.port = port;
    throwaway_postgres pg(options);
    EXPECT_EQ(wait_for_status("127.0.0.1", d.port, "/readyz", 200, 20s).status, 200);
    EXPECT_EQ(d.terminate(5s), 0);
}

TEST(coordinator_daemon, two_coordinators_starting_together_migrate_once) {
    const auto url = fresh_database();
    auto a = start_coordinator(url);
    auto b = start_coordinator(url);
    EXPECT_EQ(wait_for_status("127.0.0.1", a.port, "/readyz", 200, 20s).status, 200);
    EXPECT_EQ(wait_for_status("127.0.0.1", b.port, "/readyz", 200, 20s).status, 200);
    pqxx::connection conn(url);
    const auto rows = pqxx::read_transaction(conn).exec(
        "SELECT version, count(*) FROM schema_migrations GROUP BY version HAVING count(*) > 1");
    EXPECT_EQ(rows.size(), 0u);
    const auto applied_logs = [](running_daemon& d) {
        return d.process->collected_stderr().find("\"msg\":\"migration applied\"") !=
               std::string::npos;
    };
    EXPECT_NE(applied_logs(a), applied_logs(b)) << "exactly one coordinator applies the migrations";
    EXPECT_EQ(a.terminate(5s), 0);
    EXPECT_EQ(b.terminate(5s), 0);
}

TEST(coordinator_daemon, sigterm_exits_0_within_5_seconds_even_with_a_keepalive_client) {
    auto d = start_coordinator(fresh_database());
    ASSERT_EQ(wait_for_status("127.0.0.1", d.port, "/readyz", 200, 20s).status, 200);
    // An idle keep-alive connection must not hold the shutdown up.
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket idle(io);
    idle.connect({boost::asio::ip::make_address("127.0.0.1"), d.port});
    const auto started = std::chrono::steady_clock::now();
    EXPECT_EQ(d.terminate(5s), 0);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
    EXPECT_NE(d.process->collected_stderr().find("\"msg\":\"coordinator stopped\""),
              std::string::npos);
}

TEST(coordinator_daemon, create_admin_prints_and_writes_credentials_once) {
    const auto url = fresh_database();
    temp_file config("database:\n  url: \"" + url + "\"\n");
    const std::string creds = config.path() + ".credentials";
    const auto first = coordinator_cli({"create-admin", "--config", config.path(), "--email",
                                        "admin@fleet.test", "--credentials-file", creds});
    ASSERT_EQ(first.status, 0) << first.output;
    EXPECT_NE(first.output.find("admin email:    admin@fleet.test"), std::string::npos);
    struct stat st {};
    ASSERT_EQ(stat(creds.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    std::ifstream in(creds);
    std::string email_line, password_line;
    std::getline(in, email_line);
    std::getline(in, password_line);
    EXPECT_EQ(email_line, "email: admin@fleet.test");
    EXPECT_NE(first.output.find(password_line.substr(10)), std::string::npos);

    const auto second =
        coordinator_cli({"create-admin", "--config", config.path(), "--email", "other@fleet.test"});
    EXPECT_EQ(second.status, 0);
    EXPECT_NE(second.output.find("already exists"), std::string::npos);
    std::remove(creds.c_str());
}
