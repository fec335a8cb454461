// Changes to a built instance through the customer API, on real parts: a coordinator, PostgreSQL
// and an agent on libvirt's test:/// driver. A resize grows the instance's reservation and
// reaches the host (restarting the guest for what it cannot take live); a rebuild reinstalls the
// root disk with the new image, keys and password; a password reset goes through the guest agent;
// an SSH key needs a guest agent that can set keys, which test:/// has not. Prepaid, a resize
// refunds the old plan's unused time and pays the new plan, or changes nothing.
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/fleet_fixture.hpp"
#include "tests/integration/test_helpers.hpp"

#include <gtest/gtest.h>

#include <map>

using namespace vpsfleet::testing;
using json = nlohmann::json;

namespace {

const char* const k_key =
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEbM09REu0z0cYGLe9UEPRr9uTBmZtNfhQ0qv7dy250N me@laptop";

struct built_instance {
    std::string project;
    std::string path;  // /api/v1/projects/{p}/instances/{i}
    std::string uid;
};

built_instance build(const api_client& api, const signed_up& user, const std::string& name) {
    const std::string project = first_project(api, user.access_token);
    const std::string base = "/api/v1/projects/" + project + "/instances";
    const auto created = api.post(base, instance_order(name), user.access_token);
    EXPECT_EQ(created.status, 202) << created.raw;
    const std::string uid = created.body["instance"]["uid"];
    const auto job = finished_job(api, project, created.body["job"]["uid"], user.access_token);
    EXPECT_EQ(job["status"], "succeeded") << job.dump();
    return {project, base + "/" + uid, uid};
}

std::string allocation(const std::string& url, const std::string& instance) {
    return query_text(url,
                      "SELECT a.cpu || '/' || a.memory || '/' || a.disk FROM host_allocations a "
                      "JOIN instances i ON i.allocation_id = a.id WHERE i.uid = '" +
                          instance + "'");
}

std::string domain_state(const std::string& url, const std::string& host,
                         const std::string& instance) {
    return query_text(url, "SELECT state FROM host_domains WHERE host_id = " + host +
                               " AND name = '" + instance + "'");
}

json last_command_args(const std::string& url, const std::string& kind) {
    const auto args = query_text(url, "SELECT args::text FROM commands WHERE kind = '" + kind +
                                          "' ORDER BY created_at DESC LIMIT 1");
    return args.empty() ? json() : json::parse(args);
}

}  // namespace

TEST(instance_changes_e2e, an_instance_is_resized_rebuilt_and_given_a_new_password_on_its_host) {
    fleet_fixture fleet;
    auto agent = fleet.start_catalog_host_agent("hv-a");
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "online"));
    const std::string host = fleet.give_host_room("hv-a");
    const auto& url = fleet.database_url();
    add_resize_plans(url);
    const api_client api(fleet.coordinator().port);
    const auto user = sign_up(api, "changes@example.com");
    const auto vm = build(api, user, "web-01");
    const std::string hash_sql = "SELECT config_hash FROM host_domains WHERE host_id = " + host +
                                 " AND name = '" + vm.uid + "'";
    const std::string hash_before = query_text(url, hash_sql);
    ASSERT_FALSE(hash_before.empty());
    EXPECT_EQ(allocation(url, vm.uid), "1/2147483648/42949672960");

    // Refused, and nothing changes: no plan, an unknown plan, a plan the host has no disk for.
    const auto no_plan = api.post(vm.path + "/resize", json::object(), user.access_token);
    EXPECT_EQ(no_plan.status, 400) << no_plan.raw;
    EXPECT_EQ(no_plan.body["error"]["code"], "invalid_request");
    const auto unknown = api.post(vm.path + "/resize", {{"plan", "xl-99"}}, user.access_token);
    EXPECT_EQ(unknown.status, 404) << unknown.raw;
    EXPECT_EQ(unknown.body["error"]["code"], "plan_not_found");
    const auto too_big = api.post(vm.path + "/resize", {{"plan", "bxs-4-8"}}, user.access_token);
    EXPECT_EQ(too_big.status, 409) << too_big.raw;
    EXPECT_EQ(too_big.body["error"]["code"], "no_capacity");
    // Past the account's memory limit: 2 GiB in use, 3 GiB allowed, the new plan needs 2 more.
    exec_sql(url,
             "INSERT INTO account_limit_overrides (user_id, quota_key, value) SELECT id, "
             "'memoryMb', 3072 FROM users WHERE email = 'changes@example.com'");
    const auto over_limit =
        api.post(vm.path + "/resize", {{"plan", "bxs-2-4s"}}, user.access_token);
    EXPECT_EQ(over_limit.status, 403) << over_limit.raw;
    EXPECT_EQ(over_limit.body["error"]["code"], "limit_exceeded");
    EXPECT_EQ(over_limit.body["error"]["details"]["needed"], 2048) << over_limit.raw;
    exec_sql(url, "DELETE FROM account_limit_overrides");
    EXPECT_EQ(allocation(url, vm.uid), "1/2147483648/42949672960");
    EXPECT_EQ(api.get(vm.path, user.access_token).body["instance"]["plan_code"], "bxs-1");
    EXPECT_EQ(query_text(url, "SELECT count(*) FROM jobs WHERE kind = 'instance.resize'"), "0");

    // Resized on its host: 2 vCPUs and 4 GiB; the running guest is shut down, resized, started.
    const auto resized = api.post(vm.path + "/resize", {{"plan", "bxs-2-4s"}}, user.access_token);
    ASSERT_EQ(resized.status, 202) << resized.raw;
    EXPECT_EQ(resized.body["type"], "instance.resize");
    EXPECT_EQ(resized.body["status"], "queued");
    EXPECT_TRUE(resized.body["createdAt"].is_string());
    const auto resize_job = finished_job(api, vm.project, resized.body["uid"], user.access_token);
    ASSERT_EQ(resize_job["status"], "succeeded") << resize_job.dump();
    const auto after = api.get(vm.path, user.access_token).body["instance"];
    EXPECT_EQ(after["plan_code"], "bxs-2-4s");
    EXPECT_EQ(after["status"], "running");
    EXPECT_EQ(after["power_state"], "running");
    EXPECT_EQ(allocation(url, vm.uid), "2/4294967296/42949672960");
    const json sent = last_command_args(url, "vm.resize");
    EXPECT_EQ(sent["vcpus"], 2);
    EXPECT_EQ(sent["memory_mib"], 4096);
    EXPECT_EQ(sent["disks"][0]["size_bytes"], 42949672960LL);
    EXPECT_EQ(
        query_text(url,
                   "SELECT string_agg(kind, ',' ORDER BY created_at) FROM (SELECT created_at, kind "
                   "FROM commands ORDER BY created_at DESC LIMIT 3) c"),
        "vm.shutdown,vm.resize,vm.start");
    EXPECT_TRUE(eventually([&] { return query_text(url, hash_sql) != hash_before; }))
        << "the host's definition did not change";
    EXPECT_TRUE(eventually([&] { return domain_state(url, host, vm.uid) == "running"; }));
    // The disk only grows.
    const auto shrink = api.post(vm.path + "/resize", {{"plan", "tiny"}}, user.access_token);
    EXPECT_EQ(shrink.status, 400) << shrink.raw;

    // A new password: generated when none is given, answered once, set through the guest agent.
    const auto weak = api.post(vm.path + "/password", {{"password", "short"}}, user.access_token);
    EXPECT_EQ(weak.status, 400) << weak.raw;
    const auto reset = api.post(vm.path + "/password", json::object(), user.access_token);
    ASSERT_EQ(reset.status, 202) << reset.raw;
    EXPECT_EQ(reset.body["type"], "instance.reset_password");
    const std::string password = reset.body["password"];
    EXPECT_GE(password.size(), 8u);
    const auto reset_job = finished_job(api, vm.project, reset.body["uid"], user.access_token);
    ASSERT_EQ(reset_job["status"], "succeeded") << reset_job.dump();
    EXPECT_EQ(api.get(vm.path, user.access_token).body["instance"]["root_password"], password);
    const json set = last_command_args(url, "vm.guest.set_password");
    EXPECT_EQ(set["user"], "debian");
    EXPECT_TRUE(set["password_hash"].get<std::string>().starts_with("$6$"));
    EXPECT_FALSE(set.contains("password"));

    // test:/// cannot set SSH keys in a guest: said so, and the key is not recorded.
    const auto bad_key =
        api.post(vm.path + "/ssh-key", {{"publicKey", "ssh-ed25519 !!!"}}, user.access_token);
    EXPECT_EQ(bad_key.status, 400) << bad_key.raw;
    EXPECT_EQ(bad_key.body["error"]["code"], "invalid_key");
    const auto no_agent = api.post(vm.path + "/ssh-key", {{"publicKey", k_key}}, user.access_token);
    EXPECT_EQ(no_agent.status, 409) << no_agent.raw;
    EXPECT_EQ(no_agent.body["error"]["code"], "guest_agent_unavailable");
    EXPECT_EQ(query_text(url, "SELECT ssh_keys_snapshot::text FROM instances WHERE uid = '" +
                                  vm.uid + "'"),
              "[]");

    // Rebuilt from another image with a key: a new root disk, the same MAC, a new password.
    const auto no_source = api.post(vm.path + "/rebuild", json::object(), user.access_token);
    EXPECT_EQ(no_source.status, 400) << no_source.raw;
    const auto bad_keys = api.post(vm.path + "/rebuild",
                                   {{"source", {{"image", "img_ubuntu2404"}}}, {"sshKeys", {"x"}}},
                                   user.access_token);
    EXPECT_EQ(bad_keys.status, 400) << bad_keys.raw;
    const auto no_image =
        api.post(vm.path + "/rebuild", {{"source", {{"image", "img_nope"}}}}, user.access_token);
    EXPECT_EQ(no_image.status, 404) << no_image.raw;
    EXPECT_EQ(no_image.body["error"]["code"], "image_not_found");
    const auto rebuilt = api.post(vm.path + "/rebuild",
                                  {{"source", {{"image", "img_ubuntu2404"}}}, {"sshKeys", {k_key}}},
                                  user.access_token);
    ASSERT_EQ(rebuilt.status, 202) << rebuilt.raw;
    EXPECT_EQ(rebuilt.body["type"], "instance.rebuild");
    const auto rebuild_job = finished_job(api, vm.project, rebuilt.body["uid"], user.access_token);
    ASSERT_EQ(rebuild_job["status"], "succeeded") << rebuild_job.dump();
    const auto rebuilt_vm = api.get(vm.path, user.access_token).body["instance"];
    EXPECT_EQ(rebuilt_vm["status"], "running");
    EXPECT_EQ(rebuilt_vm["image_name"], "Ubuntu 24.04 LTS");
    EXPECT_NE(rebuilt_vm["root_password"], password);
    const json reinstall = last_command_args(url, "vm.reinstall");
    EXPECT_EQ(reinstall["image"]["volume"], "ubuntu-24.04.qcow2");
    EXPECT_EQ(reinstall["size_bytes"], 42949672960LL);
    EXPECT_EQ(reinstall["cloud_init"]["users"][0]["name"], "ubuntu");
    EXPECT_EQ(reinstall["cloud_init"]["users"][0]["ssh_keys"][0], k_key);
    EXPECT_TRUE(eventually([&] { return domain_state(url, host, vm.uid) == "running"; }));

    const auto jobs =
        api.get("/api/v1/projects/" + vm.project + "/jobs?instance=" + vm.uid, user.access_token);
    ASSERT_EQ(jobs.status, 200) << jobs.raw;
    EXPECT_EQ(jobs.body["jobs"][0]["type"], "instance.rebuild");
    // The instance's feed names the changes and who asked for them.
    const auto events = api.get(vm.path + "/events", user.access_token);
    ASSERT_EQ(events.status, 200) << events.raw;
    std::map<std::string, json> by_type;
    for (const auto& e : events.body["events"]) by_type.emplace(e["type"], e);
    ASSERT_TRUE(by_type.contains("resize.requested")) << events.raw;
    EXPECT_EQ(by_type["resize.requested"]["message"], "VM plan changed: bxs-1 -> bxs-2-4s");
    EXPECT_EQ(by_type["resize.requested"]["user_email"], "changes@example.com");
    ASSERT_TRUE(by_type.contains("rebuild.requested")) << events.raw;
    EXPECT_EQ(by_type["rebuild.requested"]["message"], "VM reinstalled from Ubuntu 24.04 LTS");
    EXPECT_TRUE(by_type.contains("power.stopped")) << events.raw;
}

TEST(instance_changes_api, changes_need_an_idle_instance_and_stay_in_their_project) {
    fleet_fixture fleet;  // no host: the order fails and the instance is in error
    const api_client api(fleet.coordinator().port);
    const auto user = sign_up(api, "idle@example.com");
    const std::string project = first_project(api, user.access_token);
    const auto created = api.post("/api/v1/projects/" + project + "/instances",
                                  instance_order("web"), user.access_token);
    ASSERT_EQ(created.status, 202) << created.raw;
    const std::string uid = created.body["instance"]["uid"];
    ASSERT_EQ(finished_job(api, project, created.body["job"]["uid"], user.access_token)["status"],
              "failed");
    const std::string path = "/api/v1/projects/" + project + "/instances/" + uid;

    for (const auto& [route, body] : std::vector<std::pair<std::string, json>>{
             {"/resize", {{"plan", "bxs-2-4"}}},
             {"/rebuild", {{"source", {{"image", "img_debian12"}}}}},
             {"/password", json::object()}}) {
        const auto busy = api.post(path + route, body, user.access_token);
        EXPECT_EQ(busy.status, 409) << route << " " << busy.raw;
        EXPECT_EQ(busy.body["error"]["code"], "operation_in_progress") << route;
    }
    const auto not_running = api.post(path + "/ssh-key", {{"publicKey", k_key}}, user.access_token);
    EXPECT_EQ(not_running.status, 409) << not_running.raw;
    EXPECT_EQ(not_running.body["error"]["code"], "invalid_state");

    // Another account's project: 404 from every change route, nothing written.
    const auto other = sign_up(api, "other@example.com");
    const std::vector<std::pair<std::string, json>> valid = {
        {"/resize", {{"plan", "bxs-2-4"}}},
        {"/rebuild", {{"source", {{"image", "img_debian12"}}}}},
        {"/password", json::object()},
        {"/ssh-key", {{"publicKey", k_key}}}};
    for (const auto& [route, body] : valid) {
        const auto foreign = api.post(path + route, body, other.access_token);
        EXPECT_EQ(foreign.status, 404) << route << " " << foreign.raw;
        EXPECT_EQ(foreign.body["error"]["code"], "project_not_found") << route;
    }
    EXPECT_EQ(query_text(fleet.database_url(),
                         "SELECT count(*) FROM jobs WHERE kind <> 'instance.create'"),
              "0");

    // An API key without VPS_DELETE cannot rebuild.
    const auto key = api.post("/api/v1/projects/" + project + "/api-keys",
                              {{"name", "ops"}, {"permissions", 1 | 2}}, user.access_token);
    ASSERT_EQ(key.status, 201) << key.raw;
    const auto denied = api.post(path + "/rebuild", {{"source", {{"image", "img_debian12"}}}},
                                 key.body["secret"].get<std::string>());
    EXPECT_EQ(denied.status, 403) << denied.raw;
}

TEST(instance_changes_billing,
     a_prepaid_resize_refunds_the_old_plan_and_pays_the_new_or_changes_nothing) {
    fleet_fixture fleet(
        "billing:\n  prepaid: true\n  currency: DKK\n  tax_rates: [DK=2500]\n"
        "  seller_name: Nordic Hosting ApS\n");
    auto agent = fleet.start_catalog_host_agent("hv-a");
    ASSERT_TRUE(fleet.wait_for_state("hv-a", "online"));
    const std::string host = fleet.give_host_room("hv-a");
    const auto& url = fleet.database_url();
    exec_sql(url, "UPDATE host_disks SET size = 1099511627776 WHERE host_id = " + host);
    add_resize_plans(url);
    const api_client api(fleet.coordinator().port);
    const auto ops = sign_up(api, "ops@example.com");
    grant_role(url, ops.email, "super_admin");
    const auto user = sign_up(api, "payer@example.com");
    const std::string user_id =
        query_text(url, "SELECT id FROM users WHERE email = 'payer@example.com'");
    exec_sql(url, "UPDATE users SET country = 'DK' WHERE id = " + user_id);
    auto credit = [&](std::int64_t amount) {
        const auto r =
            api.call("POST", "/api/admin/v1/users/" + user_id + "/credits",
                     {{"amount", amount}, {"note", "test"}}, api_client::bearer(ops.access_token));
        EXPECT_EQ(r.status, 200) << r.raw;
    };
    auto balance = [&] {
        return api.get("/api/v1/billing/credits", user.access_token).body["balanceOre"].get<long>();
    };
    credit(20'000);
    const auto vm = build(api, user, "web-01");  // bxs-1: 40.00 DKK + 25 % VAT
    ASSERT_EQ(balance(), 15'000);

    // bxs-2-4s costs 80.00 DKK + VAT: the month of bxs-1 just paid comes back (all but the
    // seconds used) and a month of bxs-2-4s is paid.
    const auto resized = api.post(vm.path + "/resize", {{"plan", "bxs-2-4s"}}, user.access_token);
    ASSERT_EQ(resized.status, 202) << resized.raw;
    ASSERT_EQ(finished_job(api, vm.project, resized.body["uid"], user.access_token)["status"],
              "succeeded");
    const auto after = balance();
    EXPECT_GE(after, 9'990);
    EXPECT_LE(after, 10'000);
    const auto ledger = api.get("/api/v1/billing/credits", user.access_token).body["ledger"];
    EXPECT_EQ(ledger[0]["type"], "charge");
    EXPECT_EQ(ledger[0]["amountOre"], -10'000);
    EXPECT_EQ(ledger[1]["type"], "refund");
    EXPECT_EQ(query_text(url, "SELECT auto_renew FROM instances WHERE uid = '" + vm.uid + "'"),
              "t");

    // Not enough credit for bxs-4-8 (160.00 DKK + VAT): refused, and nothing changes.
    credit(-5'000);
    const auto before = balance();
    const auto refused = api.post(vm.path + "/resize", {{"plan", "bxs-4-8"}}, user.access_token);
    EXPECT_EQ(refused.status, 402) << refused.raw;
    EXPECT_EQ(refused.body["error"]["code"], "billing_insufficient_credit");
    EXPECT_EQ(balance(), before);
    EXPECT_EQ(api.get(vm.path, user.access_token).body["instance"]["plan_code"], "bxs-2-4s");
    EXPECT_EQ(allocation(url, vm.uid), "2/4294967296/42949672960");
}
