// Smaller customer API pieces on a real coordinator process and PostgreSQL: the account's SSH
// keys (checked as OpenSSH keys, fingerprinted as `ssh-keygen -l` does, each held once), the
// root password acknowledgement and an instance's event feed. The instance is ordered with no
// host in the fleet: its create job fails, but its row and history are real.
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/test_helpers.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace vpsfleet::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

class customer_extras : public coordinator_suite {};

std::string command_output(const std::string& command) {
    std::string out;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) return out;
    std::array<char, 512> buf{};
    while (std::fgets(buf.data(), buf.size(), pipe) != nullptr) out += buf.data();
    ::pclose(pipe);
    return out;
}

// A fresh ed25519 key pair made by ssh-keygen: its public key line and the fingerprint
// ssh-keygen prints for it.
struct generated_key {
    std::string public_key;
    std::string fingerprint;
};

generated_key ssh_keygen(const std::string& comment) {
    std::string dir_template =
        (std::filesystem::temp_directory_path() / "vpsfleet-sshkey-XXXXXX").string();
    const char* dir = ::mkdtemp(dir_template.data());
    if (dir == nullptr) return {};
    const std::string file = std::string(dir) + "/id";
    const std::string make =
        "ssh-keygen -q -t ed25519 -N '' -C '" + comment + "' -f " + file + " >/dev/null 2>&1";
    generated_key key;
    if (std::system(make.c_str()) == 0) {
        std::ifstream in(file + ".pub");
        std::getline(in, key.public_key);
        // "256 SHA256:... comment (ED25519)"
        std::istringstream listed(command_output("ssh-keygen -lf " + file + ".pub"));
        std::string bits;
        listed >> bits >> key.fingerprint;
    }
    std::filesystem::remove_all(dir);
    return key;
}

api_reply del(const api_client& api, const std::string& target, const std::string& token) {
    return api.call("DELETE", target, nullptr, api_client::bearer(token));
}

}  // namespace

TEST_F(customer_extras, ssh_keys_are_added_listed_fingerprinted_and_deleted) {
    const auto user = sign_up(api(), "keys-owner@example.com");
    const auto other = sign_up(api(), "keys-other@example.com");
    const auto laptop = ssh_keygen("alex@laptop");
    const auto desktop = ssh_keygen("alex@desktop");
    ASSERT_FALSE(laptop.public_key.empty());
    ASSERT_EQ(laptop.fingerprint.rfind("SHA256:", 0), 0u) << laptop.fingerprint;

    EXPECT_EQ(api().get("/api/v1/account/sshkeys").status, 401);

    const auto added =
        api().post("/api/v1/account/sshkeys",
                   {{"name", "laptop"}, {"public_key", laptop.public_key}}, user.access_token);
    ASSERT_EQ(added.status, 201) << added.raw;
    const std::string uid = added.body["ssh_key"]["uid"];
    EXPECT_EQ(uid.rfind("key_", 0), 0u);
    EXPECT_EQ(added.body["ssh_key"],
              json({{"uid", uid}, {"name", "laptop"}, {"fingerprint", laptop.fingerprint}}));
    const auto second =
        api().post("/api/v1/account/sshkeys",
                   {{"name", "desktop"}, {"public_key", desktop.public_key}}, user.access_token);
    ASSERT_EQ(second.status, 201) << second.raw;
    EXPECT_EQ(second.body["ssh_key"]["fingerprint"], desktop.fingerprint);

    const auto listed = api().get("/api/v1/account/sshkeys", user.access_token);
    ASSERT_EQ(listed.status, 200) << listed.raw;
    ASSERT_EQ(listed.body["ssh_keys"].size(), 2u);
    const json& newest = listed.body["ssh_keys"][0];
    EXPECT_EQ(newest["name"], "desktop");
    const json& first = listed.body["ssh_keys"][1];
    EXPECT_EQ(first["uid"], uid);
    EXPECT_EQ(first["public_key"], laptop.public_key);
    EXPECT_EQ(first["fingerprint"], laptop.fingerprint);
    EXPECT_TRUE(first["created_at"].is_string());
    EXPECT_EQ(first.size(), 5u) << first.dump();

    // The same key under another name and comment is still the same key.
    std::string renamed = laptop.public_key.substr(0, laptop.public_key.rfind(' ')) + " other";
    const auto again = api().post("/api/v1/account/sshkeys",
                                  {{"name", "again"}, {"public_key", renamed}}, user.access_token);
    EXPECT_EQ(again.status, 409) << again.raw;
    EXPECT_EQ(again.body["error"]["code"], "key_exists");
    // Another account may hold the same key; it sees and touches only its own.
    const auto others =
        api().post("/api/v1/account/sshkeys",
                   {{"name", "shared"}, {"public_key", laptop.public_key}}, other.access_token);
    EXPECT_EQ(others.status, 201) << others.raw;
    EXPECT_EQ(api().get("/api/v1/account/sshkeys", other.access_token).body["ssh_keys"].size(), 1u);
    const auto not_theirs = del(api(), "/api/v1/account/sshkeys/" + uid, other.access_token);
    EXPECT_EQ(not_theirs.status, 404) << not_theirs.raw;
    EXPECT_EQ(not_theirs.body["error"]["code"], "key_not_found");

    EXPECT_EQ(del(api(), "/api/v1/account/sshkeys/" + uid, user.access_token).status, 204);
    EXPECT_EQ(del(api(), "/api/v1/account/sshkeys/" + uid, user.access_token).status, 404);
    const auto after = api().get("/api/v1/account/sshkeys", user.access_token);
    ASSERT_EQ(after.body["ssh_keys"].size(), 1u);
    EXPECT_EQ(after.body["ssh_keys"][0]["name"], "desktop");
    EXPECT_EQ(query("SELECT count(*) FROM audit_log WHERE action = 'ssh_key.create'"), "3");
    EXPECT_EQ(query("SELECT count(*) FROM audit_log WHERE action = 'ssh_key.delete' AND "
                    "target_id = '" +
                    uid + "'"),
              "1");
}

TEST_F(customer_extras, malformed_ssh_keys_are_refused_and_nothing_is_written) {
    const auto user = sign_up(api(), "keys-invalid@example.com");
    const auto key = ssh_keygen("me@host");
    ASSERT_FALSE(key.public_key.empty());
    std::istringstream parts(key.public_key);
    std::string type, body;
    parts >> type >> body;
    const std::string keys_before = query("SELECT count(*) FROM account_ssh_keys");
    const std::string audits_before = query("SELECT count(*) FROM audit_log");

    const std::vector<json> bodies = {
        json::object(),
        {{"name", "k"}},
        {{"public_key", key.public_key}},
        {{"name", ""}, {"public_key", key.public_key}},
        {{"name", std::string(65, 'n')}, {"public_key", key.public_key}},
        {{"name", 7}, {"public_key", key.public_key}},
        {{"name", "k"}, {"public_key", 42}},
        {{"name", "k"}, {"public_key", ""}},
        {{"name", "k"}, {"public_key", type}},
        {{"name", "k"}, {"public_key", "ssh-dss " + body}},
        {{"name", "k"}, {"public_key", "ssh-rsa " + body + " typed as rsa"}},
        {{"name", "k"}, {"public_key", type + " !!not-base64!!"}},
        {{"name", "k"}, {"public_key", type + " " + body.substr(0, body.size() - 1)}},
        {{"name", "k"}, {"public_key", type + " " + body.substr(0, 20) + "===="}},
        {{"name", "k"}, {"public_key", type + " " + body + " me\n" + key.public_key}},
    };
    for (const auto& b : bodies) {
        const auto reply = api().post("/api/v1/account/sshkeys", b, user.access_token);
        EXPECT_EQ(reply.status, 400) << b.dump() << " -> " << reply.raw;
        EXPECT_EQ(reply.body["error"]["code"], "invalid_request") << reply.raw;
        EXPECT_FALSE(reply.body["error"]["message"].get<std::string>().empty());
        EXPECT_EQ(reply.body["error"]["request_id"], reply.header("x-request-id"));
    }
    const auto bad_key =
        api().post("/api/v1/account/sshkeys", {{"name", "k"}, {"public_key", "ssh-dss " + body}},
                   user.access_token);
    EXPECT_EQ(bad_key.body["error"]["message"], "invalid OpenSSH public key");
    EXPECT_EQ(bad_key.body["error"]["details"]["field"], "public_key");
    EXPECT_EQ(query("SELECT count(*) FROM account_ssh_keys"), keys_before);
    EXPECT_EQ(query("SELECT count(*) FROM audit_log"), audits_before);
    // The untouched key is fine, so the refusals above were about the changes.
    EXPECT_EQ(api()
                  .post("/api/v1/account/sshkeys", {{"name", "k"}, {"public_key", key.public_key}},
                        user.access_token)
                  .status,
              201);
}

TEST_F(customer_extras, the_root_password_is_forgotten_once_acknowledged) {
    const auto user = sign_up(api(), "ack@example.com");
    const std::string project = first_project(api(), user.access_token);
    const std::string base = "/api/v1/projects/" + project + "/instances/";
    const auto created = api().post("/api/v1/projects/" + project + "/instances",
                                    instance_order("pw"), user.access_token);
    ASSERT_EQ(created.status, 202) << created.raw;
    const std::string instance = created.body["instance"]["uid"];

    const auto shown = api().get(base + instance, user.access_token);
    ASSERT_EQ(shown.status, 200) << shown.raw;
    EXPECT_TRUE(shown.body["instance"]["root_password"].is_string()) << shown.raw;

    const auto ack =
        api().post(base + instance + "/password/acknowledge", nullptr, user.access_token);
    EXPECT_EQ(ack.status, 204) << ack.raw;
    EXPECT_TRUE(
        api().get(base + instance, user.access_token).body["instance"]["root_password"].is_null());
    EXPECT_EQ(query("SELECT count(*) FROM instances WHERE uid = '" + instance +
                    "' AND root_password IS NULL"),
              "1");
    EXPECT_EQ(query("SELECT count(*) FROM audit_log WHERE action = "
                    "'instance.password_acknowledge' AND target_id = '" +
                    instance + "'"),
              "1");
    // Acknowledging again is harmless; an unknown instance is not found.
    EXPECT_EQ(
        api().post(base + instance + "/password/acknowledge", nullptr, user.access_token).status,
        204);
    const auto unknown =
        api().post(base + "ins_nope/password/acknowledge", nullptr, user.access_token);
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(unknown.body["error"]["code"], "instance_not_found");
    const auto stranger = sign_up(api(), "ack-stranger@example.com");
    EXPECT_EQ(api()
                  .post(base + instance + "/password/acknowledge", nullptr, stranger.access_token)
                  .status,
              404);
}

TEST_F(customer_extras, an_instance_lists_its_events_newest_first_in_pages) {
    const auto user = sign_up(api(), "events@example.com");
    const std::string project = first_project(api(), user.access_token);
    const auto created = api().post("/api/v1/projects/" + project + "/instances",
                                    instance_order("ev"), user.access_token);
    ASSERT_EQ(created.status, 202) << created.raw;
    const std::string instance = created.body["instance"]["uid"];
    const std::string events = "/api/v1/projects/" + project + "/instances/" + instance + "/events";
    // With no host the create job fails, which the history records after the creation.
    const auto job = finished_job(api(), project, created.body["job"]["uid"], user.access_token);
    EXPECT_EQ(job["status"], "failed") << job.dump();

    const auto all = api().get(events, user.access_token);
    ASSERT_EQ(all.status, 200) << all.raw;
    const json& list = all.body["events"];
    ASSERT_GE(list.size(), 2u) << all.raw;
    EXPECT_TRUE(all.body["next_cursor"].is_null());
    const json& oldest = list.back();
    EXPECT_EQ(oldest["type"], "create.requested");
    EXPECT_EQ(oldest["message"], "VM created");
    EXPECT_EQ(oldest["user_email"], "events@example.com");
    EXPECT_EQ(oldest["meta"]["new_state"]["status"], "queued") << oldest.dump();
    EXPECT_EQ(oldest["uid"].get<std::string>().rfind("evt_", 0), 0u);
    EXPECT_TRUE(oldest["created_at"].is_string());
    EXPECT_EQ(list[0]["meta"]["new_state"]["status"], "error") << list[0].dump();

    // One at a time, following the cursor, gives the same feed.
    json walked = json::array();
    std::string target = events + "?limit=1";
    for (std::size_t page = 0; page <= list.size(); ++page) {
        const auto reply = api().get(target, user.access_token);
        ASSERT_EQ(reply.status, 200) << reply.raw;
        ASSERT_LE(reply.body["events"].size(), 1u);
        for (const auto& e : reply.body["events"]) walked.push_back(e);
        if (reply.body["next_cursor"].is_null()) break;
        target = events + "?limit=1&cursor=" + reply.body["next_cursor"].get<std::string>();
    }
    EXPECT_EQ(walked, list);

    EXPECT_EQ(api().get(events + "?limit=0", user.access_token).status, 400);
    EXPECT_EQ(api().get(events + "?limit=ten", user.access_token).status, 400);
    const auto bad_cursor = api().get(events + "?cursor=bm9wZQ==", user.access_token);
    EXPECT_EQ(bad_cursor.status, 400) << bad_cursor.raw;
    EXPECT_EQ(bad_cursor.body["error"]["code"], "invalid_request");
    const auto unknown =
        api().get("/api/v1/projects/" + project + "/instances/ins_nope/events", user.access_token);
    EXPECT_EQ(unknown.status, 404);
    EXPECT_EQ(unknown.body["error"]["code"], "instance_not_found");
}
