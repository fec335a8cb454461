// The fleet link end to end with the real binaries: enrollment with join tokens, the mutual-TLS
// WebSocket, refusals at the handshake, liveness by lease, and the protocol's error handling.
#include "common/pki.hpp"
#include "tests/integration/fleet_fixture.hpp"
#include "tests/support/ws_test_client.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <signal.h>

#include <filesystem>

using namespace vpsfleet::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

// The client identity an enrolled agent keeps in its state directory.
tls_identity identity_of(const fleet_fixture& fleet, const std::string& name) {
    const std::string dir = fleet.dir() + "/" + name;
    const std::string pem = vpsfleet::pki::read_file(dir + "/agent.pem");
    const auto at = pem.find("-----BEGIN CERTIFICATE-----");
    return {vpsfleet::pki::read_file(dir + "/ca.crt"), pem.substr(at), pem.substr(0, at)};
}

std::string fleet_ca_pem(const fleet_fixture& fleet) {
    return vpsfleet::pki::read_file(fleet.dir() + "/coordinator/fleet-ca.crt");
}

// curl over the fleet port with a WebSocket upgrade; returns the HTTP code, or 000 when the TLS
// handshake failed.
std::string curl_upgrade(const fleet_fixture& fleet, const std::string& cert = {},
                         const std::string& key = {}) {
    std::vector<std::string> argv{"curl",
                                  "-s",
                                  "-o",
                                  "/dev/null",
                                  "-w",
                                  "%{http_code}",
                                  "--max-time",
                                  "10",
                                  "--cacert",
                                  fleet.dir() + "/coordinator/fleet-ca.crt",
                                  "--tlsv1.3",
                                  "-H",
                                  "Connection: Upgrade",
                                  "-H",
                                  "Upgrade: websocket",
                                  "-H",
                                  "Sec-WebSocket-Version: 13",
                                  "-H",
                                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="};
    if (!cert.empty()) argv.insert(argv.end(), {"--cert", cert, "--key", key});
    argv.push_back("https://127.0.0.1:" + std::to_string(fleet.fleet_port()) + "/fleet/v1");
    auto r = run_command(argv);
    return r.output.substr(0, 3);
}

bool scrape_has(const fleet_fixture& fleet, const std::string& needle) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < deadline) {
        if (fleet.scrape().find(needle) != std::string::npos) return true;
        std::this_thread::sleep_for(50ms);
    }
    return false;
}

std::string write_pem(const fleet_fixture& fleet, const std::string& name,
                      const std::string& content) {
    const std::string path = fleet.dir() + "/" + name;
    vpsfleet::pki::write_private_file(path, content);
    return path;
}

}  // namespace

TEST(fleet_link, agent_enrolls_connects_and_comes_online_with_its_facts) {
    fleet_fixture fleet;
    const auto fingerprint = fleet.fleet_ca_fingerprint();
    ASSERT_EQ(fingerprint.size(), 64u);
    const auto enrolled = fleet.enroll("hv-a", fleet.create_token(), fingerprint);
    ASSERT_EQ(enrolled.status, 0) << enrolled.output;
    EXPECT_NE(enrolled.output.find("enrolled as host"), std::string::npos);
    EXPECT_EQ(fleet.host_state("hv-a"), "pending");

    auto agent = fleet.start_agent("hv-a");
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "online")) << agent.process->collected_stderr();
    pqxx::connection conn(fleet.database_url());
    const auto row = pqxx::read_transaction(conn).exec(
        "SELECT cpu, memory, agent_version, connected_instance IS NOT NULL FROM hosts WHERE name = "
        "'hv-a'");
    EXPECT_EQ(row[0][0].as<int>(), 16);  // libvirt's test:///default host
    EXPECT_EQ(row[0][1].as<long long>(), 3145728LL * 1024);
    EXPECT_EQ(row[0][2].as<std::string>(), "0.1.0");
    EXPECT_TRUE(row[0][3].as<bool>());
    EXPECT_TRUE(scrape_has(fleet, "vpsfleet_coordinator_fleet_connected_agents 1"));
    EXPECT_TRUE(scrape_has(
        fleet, R"(vpsfleet_coordinator_fleet_messages_total{direction="in",type="hello"} 1)"));

    // The key never leaves the host, and only its owner can read it.
    const auto perms = std::filesystem::status(fleet.dir() + "/hv-a/agent.pem").permissions();
    EXPECT_EQ(perms, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    EXPECT_EQ(agent.terminate(5s), 0);
}

TEST(fleet_link, join_tokens_are_single_use_expiring_and_stored_hashed) {
    fleet_fixture fleet;
    const auto token = fleet.create_token();
    ASSERT_EQ(fleet.enroll("hv-a", token).status, 0);
    const auto reused = fleet.enroll("hv-b", token);
    EXPECT_NE(reused.status, 0);
    EXPECT_NE(reused.output.find("join token already used"), std::string::npos) << reused.output;

    const auto expiring = fleet.create_token("1m");
    {
        pqxx::connection conn(fleet.database_url());
        pqxx::work tx(conn);
        EXPECT_EQ(
            tx.exec_params("SELECT count(*) FROM join_tokens WHERE token_hash = $1", expiring)[0][0]
                .as<int>(),
            0);
        tx.exec(
            "UPDATE join_tokens SET expires_at = now() - interval '1 second' WHERE used_at IS "
            "NULL");
        tx.commit();
    }
    const auto expired = fleet.enroll("hv-c", expiring);
    EXPECT_NE(expired.status, 0);
    EXPECT_NE(expired.output.find("join token expired"), std::string::npos) << expired.output;
    const auto unknown = fleet.enroll("hv-d", "vfj_not-a-token");
    EXPECT_NE(unknown.output.find("unknown join token"), std::string::npos) << unknown.output;
    EXPECT_EQ(fleet.host_state("hv-c"), "");
    EXPECT_EQ(fleet.host_state("hv-d"), "");
    EXPECT_TRUE(scrape_has(
        fleet, R"(vpsfleet_coordinator_fleet_enrollments_total{outcome="token_used"} 1)"));
}

TEST(fleet_link, enrollment_refuses_a_coordinator_with_another_ca_fingerprint) {
    fleet_fixture fleet;
    const auto r = fleet.enroll("hv-a", fleet.create_token(), std::string(64, 'a'));
    EXPECT_NE(r.status, 0);
    EXPECT_NE(r.output.find("refusing to trust it"), std::string::npos) << r.output;
    EXPECT_FALSE(std::filesystem::exists(fleet.dir() + "/hv-a/enrollment.json"));
}

TEST(fleet_link, handshake_refuses_no_foreign_and_expired_certificates_by_reason) {
    fleet_fixture fleet;
    EXPECT_EQ(curl_upgrade(fleet), "401");
    EXPECT_TRUE(scrape_has(
        fleet,
        R"(vpsfleet_coordinator_fleet_handshake_failures_total{reason="no_certificate"} 1)"));

    // A certificate from another CA.
    const auto other_ca = vpsfleet::pki::create_ca("someone else", std::chrono::hours(24));
    const auto key = vpsfleet::pki::generate_p256_key();
    const auto foreign = vpsfleet::pki::sign_client_csr(
        other_ca, vpsfleet::pki::create_csr(key.private_key_pem, "x"), "1", std::chrono::hours(1));
    EXPECT_EQ(curl_upgrade(fleet, write_pem(fleet, "foreign.crt", foreign.certificate_pem),
                           write_pem(fleet, "foreign.key", key.private_key_pem)),
              "000");
    EXPECT_TRUE(scrape_has(
        fleet, R"(vpsfleet_coordinator_fleet_handshake_failures_total{reason="unknown_ca"} 1)"));

    // A certificate from the fleet CA that has expired (back-dated five minutes, valid one second).
    const vpsfleet::pki::ca fleet_ca{
        fleet_ca_pem(fleet), vpsfleet::pki::read_file(fleet.dir() + "/coordinator/fleet-ca.key")};
    const auto expired = vpsfleet::pki::sign_client_csr(
        fleet_ca, vpsfleet::pki::create_csr(key.private_key_pem, "x"), "1",
        std::chrono::seconds(1));
    std::this_thread::sleep_for(1100ms);
    EXPECT_EQ(curl_upgrade(fleet, write_pem(fleet, "expired.crt", expired.certificate_pem),
                           write_pem(fleet, "expired.key", key.private_key_pem)),
              "000");
    EXPECT_TRUE(scrape_has(
        fleet, R"(vpsfleet_coordinator_fleet_handshake_failures_total{reason="expired"} 1)"));
}

TEST(fleet_link, disabling_a_host_closes_its_link_and_refuses_its_certificate) {
    fleet_fixture fleet;
    ASSERT_EQ(fleet.enroll("hv-a", fleet.create_token()).status, 0);
    auto agent = fleet.start_agent("hv-a");
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "online"));
    {
        pqxx::connection conn(fleet.database_url());
        pqxx::work tx(conn);
        tx.exec("UPDATE hosts SET enabled = false WHERE name = 'hv-a'");
        tx.commit();
    }
    EXPECT_TRUE(
        fleet.coordinator().process->wait_for_line("\"reason\":\"revoked_or_disabled\"", 5s));
    EXPECT_TRUE(scrape_has(
        fleet, R"(vpsfleet_coordinator_fleet_handshake_failures_total{reason="revoked"})"));
    EXPECT_TRUE(scrape_has(fleet, "vpsfleet_coordinator_fleet_connected_agents 0"));
    // Refused at every redial, so the lease runs out.
    EXPECT_TRUE(fleet.wait_for_state("hv-a", "down", 10s));
}

TEST(fleet_link, a_killed_agent_goes_unreachable_then_down_within_the_lease_bounds) {
    fleet_fixture fleet;  // lease 400 ms
    ASSERT_EQ(fleet.enroll("hv-a", fleet.create_token()).status, 0);
    auto agent = fleet.start_agent("hv-a");
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "online"));
    agent.process->signal(SIGKILL);
    const auto killed = std::chrono::steady_clock::now();
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "unreachable", 5s));
    const auto unreachable_after = std::chrono::steady_clock::now() - killed;
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "down", 5s));
    const auto down_after = std::chrono::steady_clock::now() - killed;
    // Never before one lease; the check runs every heartbeat (100 ms) and last_seen lags by one.
    EXPECT_GE(unreachable_after, 300ms);
    EXPECT_LE(unreachable_after, 5000ms);  // generous: CI runs this under sanitizers on 2 cores
    EXPECT_GE(down_after, 700ms);
    EXPECT_LE(down_after, 6000ms);
}

TEST(fleet_link, agents_come_back_online_after_the_coordinator_restarts) {
    fleet_fixture fleet;
    ASSERT_EQ(fleet.enroll("hv-a", fleet.create_token()).status, 0);
    ASSERT_EQ(fleet.enroll("hv-b", fleet.create_token()).status, 0);
    auto a = fleet.start_agent("hv-a");
    auto b = fleet.start_agent("hv-b");
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "online"));
    ASSERT_TRUE(fleet.wait_for_state("hv-b", "online"));
    fleet.coordinator().process->signal(SIGKILL);
    fleet.coordinator().process->wait_exit(5s);
    fleet.restart_coordinator();
    EXPECT_TRUE(fleet.wait_for_state("hv-a", "online", 15s));
    EXPECT_TRUE(fleet.wait_for_state("hv-b", "online", 15s));
    EXPECT_TRUE(scrape_has(fleet, "vpsfleet_coordinator_fleet_connected_agents 2"));
    EXPECT_EQ(a.terminate(5s), 0);
    EXPECT_EQ(b.terminate(5s), 0);
}

TEST(fleet_link, malformed_messages_get_errors_and_the_link_survives) {
    fleet_fixture fleet;
    ASSERT_EQ(fleet.enroll("hv-a", fleet.create_token()).status, 0);
    ws_test_client client;
    ASSERT_EQ(client.connect(fleet.fleet_port(), identity_of(fleet, "hv-a")), "");

    ASSERT_TRUE(client.send("{not json"));
    auto reply = json::parse(client.receive().value_or("{}"));
    EXPECT_EQ(reply["type"], "error");
    EXPECT_EQ(reply["body"]["code"], "malformed_json");

    ASSERT_TRUE(client.send(R"({"v":1,"type":"teleport","id":"m2","ts":1,"body":{}})"));
    reply = json::parse(client.receive().value_or("{}"));
    EXPECT_EQ(reply["body"]["code"], "unknown_type");
    EXPECT_EQ(reply["ref"], "m2");

    ASSERT_TRUE(client.send(R"({"v":1,"type":"heartbeat","id":"m3","ts":1,"body":{"seq":-1}})"));
    reply = json::parse(client.receive().value_or("{}"));
    EXPECT_EQ(reply["body"]["code"], "invalid_body");
    EXPECT_EQ(reply["body"]["message"], "body.seq: expected unsigned integer");

    // Still usable: a proper hello is welcomed.
    ASSERT_TRUE(client.send(
        R"({"v":1,"type":"hello","id":"m4","ts":1,"body":{"agent_version":"t","driver":"memory",)"
        R"("host_name":"hv-a","facts":{"cpus":2,"cpu_mhz":1,"cpu_model":"x","memory_bytes":1024,)"
        R"("disks":[],"capabilities":[]}}})"));
    reply = json::parse(client.receive().value_or("{}"));
    EXPECT_EQ(reply["type"], "welcome");
    EXPECT_EQ(reply["ref"], "m4");
    EXPECT_EQ(reply["body"]["lease_ms"], 400);
    EXPECT_TRUE(fleet.wait_for_state("hv-a", "online"));
}

TEST(fleet_link, an_unsupported_version_closes_the_link_with_a_reason) {
    fleet_fixture fleet;
    ASSERT_EQ(fleet.enroll("hv-a", fleet.create_token()).status, 0);
    ws_test_client client;
    ASSERT_EQ(client.connect(fleet.fleet_port(), identity_of(fleet, "hv-a")), "");
    ASSERT_TRUE(client.send(R"({"v":2,"type":"hello","id":"m1","ts":1,"body":{}})"));
    auto reply = json::parse(client.receive().value_or("{}"));
    EXPECT_EQ(reply["body"]["code"], "unsupported_version");
    EXPECT_FALSE(client.receive());
    EXPECT_EQ(client.close_code(), 1008);
}

TEST(fleet_link, an_oversized_frame_closes_only_that_link) {
    fleet_fixture fleet;
    ASSERT_EQ(fleet.enroll("hv-a", fleet.create_token()).status, 0);
    ASSERT_EQ(fleet.enroll("hv-b", fleet.create_token()).status, 0);
    auto healthy = fleet.start_agent("hv-b");
    ASSERT_TRUE(fleet.wait_for_state("hv-b", "online"));

    ws_test_client client;
    ASSERT_EQ(client.connect(fleet.fleet_port(), identity_of(fleet, "hv-a")), "");
    client.send(std::string(2 * 1024 * 1024, 'x'));  // over the 1 MiB default
    EXPECT_FALSE(client.receive());
    EXPECT_TRUE(fleet.coordinator().process->wait_for_line("\"reason\":\"frame_too_large\"", 5s))
        << fleet.coordinator().process->collected_stderr();
    EXPECT_EQ(fleet.host_state("hv-b"), "online");
    EXPECT_EQ(healthy.terminate(5s), 0);
}

TEST(fleet_link, the_agent_renews_its_certificate_over_the_live_link) {
    fleet_fixture fleet("  certificate_lifetime: 12s\n");  // renewal due 8 s after issue
    ASSERT_EQ(fleet.enroll("hv-a", fleet.create_token()).status, 0);
    const auto first = identity_of(fleet, "hv-a").certificate_pem;
    auto agent = fleet.start_agent("hv-a");
    ASSERT_TRUE(agent.process->wait_for_line("\"msg\":\"certificate renewed\"", 20s))
        << agent.process->collected_stderr();
    const auto renewed = identity_of(fleet, "hv-a");
    EXPECT_NE(renewed.certificate_pem, first);
    const auto info = vpsfleet::pki::inspect(renewed.certificate_pem);
    EXPECT_TRUE(vpsfleet::pki::verify_signed_by(renewed.certificate_pem, fleet_ca_pem(fleet),
                                                std::chrono::system_clock::now()));
    pqxx::connection conn(fleet.database_url());
    EXPECT_EQ(pqxx::read_transaction(conn)
                  .exec_params("SELECT count(*) FROM host_certificates WHERE serial = $1",
                               info.serial_hex)[0][0]
                  .as<int>(),
              1);
    // The next link uses the renewed certificate.
    EXPECT_EQ(agent.terminate(5s), 0);
    ws_test_client client;
    EXPECT_EQ(client.connect(fleet.fleet_port(), renewed), "");
}

TEST(fleet_link, a_peer_that_falls_behind_its_send_queue_is_disconnected_and_counted) {
    fleet_fixture fleet("  send_queue_messages: 8\n");
    ASSERT_EQ(fleet.enroll("hv-a", fleet.create_token()).status, 0);
    ws_test_client client;  // says hello, then never reads
    ASSERT_EQ(client.connect(fleet.fleet_port(), identity_of(fleet, "hv-a")), "");
    ASSERT_TRUE(client.send(
        R"({"v":1,"type":"hello","id":"h","ts":1,"body":{"agent_version":"t","driver":"memory",)"
        R"("host_name":"hv-a","facts":{"cpus":1,"cpu_mhz":1,"cpu_model":"x","memory_bytes":1,)"
        R"("disks":[],"capabilities":[]}}})"));
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "online"));
    {
        pqxx::connection conn(fleet.database_url());
        pqxx::work tx(conn);
        tx.exec(
            "INSERT INTO commands (host_id, kind, args, deadline) SELECT id, 'domain.start', "
            "'{\"domain\":\"" +
            std::string(4000, 'x') +
            "\"}', now() + interval '1 minute' "
            "FROM hosts, generate_series(1, 200) WHERE name = 'hv-a'");
        tx.exec("SELECT pg_notify('vpsfleet_commands', id::text) FROM hosts WHERE name = 'hv-a'");
        tx.commit();
    }
    EXPECT_TRUE(fleet.coordinator().process->wait_for_line("\"reason\":\"slow_peer\"", 10s));
    EXPECT_TRUE(
        scrape_has(fleet, R"(vpsfleet_coordinator_fleet_disconnects_total{reason="slow_peer"} 1)"));
    EXPECT_TRUE(scrape_has(fleet, "vpsfleet_coordinator_fleet_send_queue_messages 0"));
}
