// The one-click app catalog (GET /apps, /apps/{slug}), ordering instances from an app or a
// project template, and a project's templates (list, rename, delete), on a real coordinator
// process and PostgreSQL. No host is in the fleet: ordered instances' create jobs fail, but what
// the order wrote (image, app, template) is real.
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/test_helpers.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>

using namespace vpsfleet::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

class apps_templates : public coordinator_suite {};

json app_order(const std::string& name, const std::string& plan, const std::string& app) {
    return {{"name", name}, {"plan", plan}, {"source", {{"app", app}}}};
}

json template_order(const std::string& name, const std::string& tpl) {
    return {{"name", name}, {"plan", "bxs-1"}, {"source", {{"template", tpl}}}};
}

// A template row of the project (by uid), as the backups routes would write it.
void add_template(const std::string& db, const std::string& uid, const std::string& project,
                  const std::string& name, const std::string& columns, const std::string& values) {
    exec_sql(db, "INSERT INTO templates (uid, project_id, name, " + columns + ") SELECT '" + uid +
                     "', id, '" + name + "', " + values + " FROM projects WHERE uid = '" + project +
                     "'");
}

api_reply patch(const api_client& api, const std::string& target, const json& body,
                const std::string& token) {
    return api.call("PATCH", target, body, api_client::bearer(token));
}

api_reply del(const api_client& api, const std::string& target, const std::string& token) {
    return api.call("DELETE", target, nullptr, api_client::bearer(token));
}

}  // namespace

TEST_F(apps_templates, the_catalog_lists_each_apps_newest_active_version_with_its_needs) {
    const auto user = sign_up(api(), "apps-list@example.com");
    EXPECT_EQ(api().get("/api/v1/apps").status, 401);

    const auto listed = api().get("/api/v1/apps", user.access_token);
    ASSERT_EQ(listed.status, 200) << listed.raw;
    std::vector<std::string> slugs;
    for (const auto& app : listed.body["apps"]) slugs.push_back(app["slug"]);
    EXPECT_EQ(slugs, (std::vector<std::string>{"coolify", "gitea", "postgresql"}));
    const json coolify = {{"uid", "app_coolify"},
                          {"slug", "coolify"},
                          {"version", "4.1.0"},
                          {"name", "Coolify"},
                          {"description", "Self-hostable PaaS to deploy apps and databases."},
                          {"logo", nullptr},
                          {"category", "panel"},
                          {"requirements",
                           {{"minVcpu", 2},
                            {"minMemoryMb", 4096},
                            {"minDiskGb", 40},
                            {"image", {{"family", "ubuntu"}, {"version", "24.04"}}}}}};
    EXPECT_EQ(listed.body["apps"][0], coolify);
    EXPECT_EQ(listed.body["apps"][1]["requirements"]["image"],
              json({{"family", "debian"}, {"version", "12"}}));
    const auto one = api().get("/api/v1/apps/coolify", user.access_token);
    ASSERT_EQ(one.status, 200) << one.raw;
    EXPECT_EQ(one.body, json({{"app", coolify}}));

    // A newer version replaces the older one in the catalog; withdrawn, the older one is back.
    exec(
        "INSERT INTO apps (uid, slug, version, name, category, image_id, user_data) "
        "SELECT 'app_gitea_next', 'gitea', '1.23.0', 'Gitea', 'development', id, "
        "'#!/bin/sh\ntrue\n' FROM os_images WHERE uid = 'img_debian12'");
    const auto newer = api().get("/api/v1/apps", user.access_token);
    ASSERT_EQ(newer.body["apps"].size(), 3u) << newer.raw;
    EXPECT_EQ(newer.body["apps"][1]["uid"], "app_gitea_next");
    EXPECT_EQ(api().get("/api/v1/apps/gitea", user.access_token).body["app"]["version"], "1.23.0");
    exec("UPDATE apps SET active = false WHERE uid = 'app_gitea_next'");
    EXPECT_EQ(api().get("/api/v1/apps/gitea", user.access_token).body["app"]["version"], "1.22.6");
}

TEST_F(apps_templates, an_unknown_or_withdrawn_app_is_app_not_found) {
    const auto user = sign_up(api(), "apps-missing@example.com");
    const auto missing = api().get("/api/v1/apps/wordpress", user.access_token);
    EXPECT_EQ(missing.status, 404) << missing.raw;
    EXPECT_EQ(missing.body["error"]["code"], "app_not_found");
    EXPECT_EQ(missing.body["error"]["request_id"], missing.header("x-request-id"));

    exec(
        "INSERT INTO apps (uid, slug, version, name, category, image_id, user_data, active) "
        "SELECT 'app_retired', 'retired', '1', 'Retired', 'misc', id, '#!/bin/sh\ntrue\n', false "
        "FROM os_images WHERE uid = 'img_debian12'");
    EXPECT_EQ(api().get("/api/v1/apps/retired", user.access_token).status, 404);
    const std::string project = first_project(api(), user.access_token);
    const auto ordered = api().post("/api/v1/projects/" + project + "/instances",
                                    app_order("old", "bxs-1", "retired"), user.access_token);
    EXPECT_EQ(ordered.status, 404) << ordered.raw;
    EXPECT_EQ(ordered.body["error"]["code"], "app_not_found");
}

TEST_F(apps_templates, an_instance_ordered_from_an_app_is_built_from_its_image_and_shows_it) {
    const auto user = sign_up(api(), "apps-order@example.com");
    const std::string project = first_project(api(), user.access_token);
    const std::string base = "/api/v1/projects/" + project + "/instances";
    const std::string instances_before = query("SELECT count(*) FROM instances");

    // Coolify needs 2 vCPUs and 4 GB; bxs-1 has 1 vCPU and 2 GB.
    const auto too_small =
        api().post(base, app_order("paas", "bxs-1", "coolify"), user.access_token);
    EXPECT_EQ(too_small.status, 400) << too_small.raw;
    EXPECT_EQ(too_small.body["error"]["code"], "invalid_request");
    EXPECT_EQ(too_small.body["error"]["details"]["field"], "plan");
    EXPECT_NE(too_small.raw.find("Coolify"), std::string::npos) << too_small.raw;
    for (const json& source :
         {json{{"app", ""}}, json{{"app", 7}}, json{{"app", "gitea"}, {"image", "img_debian12"}},
          json{{"recipe", "gitea"}}, json::object()}) {
        const auto refused = api().post(
            base, {{"name", "bad"}, {"plan", "bxs-1"}, {"source", source}}, user.access_token);
        EXPECT_EQ(refused.status, 400) << source.dump() << " -> " << refused.raw;
        EXPECT_EQ(refused.body["error"]["details"]["field"], "source") << refused.raw;
    }
    const auto unknown = api().post(base, app_order("x", "bxs-1", "nope"), user.access_token);
    EXPECT_EQ(unknown.status, 404) << unknown.raw;
    EXPECT_EQ(unknown.body["error"]["code"], "app_not_found");
    EXPECT_EQ(query("SELECT count(*) FROM instances"), instances_before);

    const auto gitea = api().post(base, app_order("git", "bxs-1", "gitea"), user.access_token);
    ASSERT_EQ(gitea.status, 202) << gitea.raw;
    EXPECT_EQ(gitea.body["job"]["type"], "instance.create");
    const std::string uid = gitea.body["instance"]["uid"];
    const auto shown = api().get(base + "/" + uid, user.access_token);
    ASSERT_EQ(shown.status, 200) << shown.raw;
    EXPECT_EQ(shown.body["instance"]["app_slug"], "gitea");
    EXPECT_EQ(shown.body["instance"]["app_name"], "Gitea");
    EXPECT_EQ(shown.body["instance"]["image_name"], "Debian 12");
    EXPECT_EQ(query("SELECT a.uid FROM instances i JOIN apps a ON a.id = i.app_id "
                    "WHERE i.uid = '" +
                    uid + "'"),
              "app_gitea");

    const auto paas = api().post(base, app_order("paas", "bxs-2-4", "coolify"), user.access_token);
    ASSERT_EQ(paas.status, 202) << paas.raw;
    ASSERT_EQ(api().post(base, instance_order("plain"), user.access_token).status, 202);
    const auto listed = api().get(base, user.access_token);
    ASSERT_EQ(listed.body["instances"].size(), 3u) << listed.raw;
    EXPECT_EQ(listed.body["instances"][1]["app_slug"], "coolify");
    EXPECT_EQ(listed.body["instances"][1]["image_name"], "Ubuntu 24.04 LTS");
    EXPECT_EQ(listed.body["instances"][2]["app_slug"], nullptr);
    EXPECT_EQ(listed.body["instances"][2]["app_name"], nullptr);
}

TEST_F(apps_templates, templates_are_listed_renamed_and_deleted_within_their_project) {
    const auto user = sign_up(api(), "templates-owner@example.com");
    const auto stranger = sign_up(api(), "templates-stranger@example.com");
    const std::string project = first_project(api(), user.access_token);
    const std::string theirs = first_project(api(), stranger.access_token);
    const std::string base = "/api/v1/projects/" + project + "/templates";
    const auto web = api().post("/api/v1/projects/" + project + "/instances",
                                instance_order("web-01"), user.access_token);
    ASSERT_EQ(web.status, 202) << web.raw;

    add_template(*db_url_, "tpl_webbase1", project, "web-base-debian12",
                 "source_instance_id, image_id, size_gb, min_disk_gb, monthly_price_ore, status, "
                 "created_at",
                 "(SELECT id FROM instances WHERE name = 'web-01' AND project_id = projects.id), "
                 "(SELECT id FROM os_images WHERE uid = 'img_debian12'), 20, 20, 200, 'ready', "
                 "'2026-06-18T09:14:02Z'");
    add_template(*db_url_, "tpl_dbsnap01", project, "db-snapshot",
                 "image_id, size_gb, min_disk_gb, monthly_price_ore, status, created_at",
                 "(SELECT id FROM os_images WHERE uid = 'img_debian12'), 40, 40, 400, 'ready', "
                 "'2026-06-10T11:02:55Z'");
    add_template(*db_url_, "tpl_gone0001", project, "gone",
                 "image_id, size_gb, min_disk_gb, status, deleted_at",
                 "(SELECT id FROM os_images WHERE uid = 'img_debian12'), 10, 10, 'deleted', now()");

    EXPECT_EQ(api().get(base).status, 401);
    const auto listed = api().get(base, user.access_token);
    ASSERT_EQ(listed.status, 200) << listed.raw;
    ASSERT_TRUE(listed.body.is_array()) << listed.raw;
    ASSERT_EQ(listed.body.size(), 2u) << listed.raw;
    EXPECT_EQ(listed.body[0], json({{"uid", "tpl_dbsnap01"},
                                    {"projectUid", project},
                                    {"name", "db-snapshot"},
                                    {"sizeGb", 40},
                                    {"minDiskGb", 40},
                                    {"monthlyPriceOre", 400},
                                    {"status", "ready"},
                                    {"createdAt", "2026-06-10T11:02:55.000Z"}}));
    EXPECT_EQ(listed.body[1]["uid"], "tpl_webbase1");
    EXPECT_EQ(listed.body[1]["sourceInstanceName"], "web-01");

    // Another account sees neither the project nor its templates.
    EXPECT_EQ(api().get(base, stranger.access_token).body["error"]["code"], "project_not_found");
    const auto own = api().get("/api/v1/projects/" + theirs + "/templates", stranger.access_token);
    ASSERT_EQ(own.status, 200) << own.raw;
    EXPECT_EQ(own.body, json::array());
    const std::string elsewhere = "/api/v1/projects/" + theirs + "/templates/tpl_webbase1";
    const auto renamed_elsewhere =
        patch(api(), elsewhere, {{"name", "mine now"}}, stranger.access_token);
    EXPECT_EQ(renamed_elsewhere.status, 404) << renamed_elsewhere.raw;
    EXPECT_EQ(renamed_elsewhere.body["error"]["code"], "template_not_found");
    const auto deleted_elsewhere = del(api(), elsewhere, stranger.access_token);
    EXPECT_EQ(deleted_elsewhere.status, 404) << deleted_elsewhere.raw;
    EXPECT_EQ(deleted_elsewhere.body["error"]["code"], "template_not_found");
    const auto ordered_elsewhere =
        api().post("/api/v1/projects/" + theirs + "/instances",
                   template_order("copy", "tpl_webbase1"), stranger.access_token);
    EXPECT_EQ(ordered_elsewhere.status, 404) << ordered_elsewhere.raw;
    EXPECT_EQ(ordered_elsewhere.body["error"]["code"], "template_not_found");

    // Rename: 1-64 characters; the reply is the whole template.
    const std::string one = base + "/tpl_webbase1";
    for (const json& bad : {json::object(), json{{"name", ""}}, json{{"name", 5}},
                            json{{"name", std::string(65, 'n')}}}) {
        const auto refused = patch(api(), one, bad, user.access_token);
        EXPECT_EQ(refused.status, 400) << bad.dump() << " -> " << refused.raw;
        EXPECT_EQ(refused.body["error"]["code"], "invalid_request");
    }
    EXPECT_EQ(query("SELECT name FROM templates WHERE uid = 'tpl_webbase1'"), "web-base-debian12");
    EXPECT_EQ(patch(api(), base + "/tpl_gone0001", {{"name", "back"}}, user.access_token).status,
              404);
    const auto renamed =
        patch(api(), one, {{"name", "web-base-debian12-hardened"}}, user.access_token);
    ASSERT_EQ(renamed.status, 200) << renamed.raw;
    EXPECT_EQ(renamed.body, json({{"uid", "tpl_webbase1"},
                                  {"projectUid", project},
                                  {"name", "web-base-debian12-hardened"},
                                  {"sourceInstanceName", "web-01"},
                                  {"sizeGb", 20},
                                  {"minDiskGb", 20},
                                  {"monthlyPriceOre", 200},
                                  {"status", "ready"},
                                  {"createdAt", "2026-06-18T09:14:02.000Z"}}));
    EXPECT_EQ(query("SELECT count(*) FROM audit_log WHERE action = 'template.rename'"), "1");

    // A read-only key lists templates but may not change them.
    const auto key = api().post("/api/v1/projects/" + project + "/api-keys",
                                {{"name", "reader"}, {"permissions", 1}}, user.access_token);
    ASSERT_EQ(key.status, 201) << key.raw;
    const std::string secret = key.body["secret"];
    EXPECT_EQ(api().get(base, secret).status, 200);
    EXPECT_EQ(patch(api(), one, {{"name", "nope"}}, secret).status, 403);
    EXPECT_EQ(del(api(), one, secret).status, 403);

    // Delete: 202 with the template.delete job; once it ran the template is gone.
    const auto removed = del(api(), base + "/tpl_dbsnap01", user.access_token);
    ASSERT_EQ(removed.status, 202) << removed.raw;
    EXPECT_EQ(removed.body["type"], "template.delete");
    EXPECT_EQ(removed.body["status"], "queued");
    EXPECT_TRUE(removed.body["uid"].get<std::string>().starts_with("job_")) << removed.raw;
    EXPECT_TRUE(removed.body["createdAt"].get<std::string>().ends_with("Z")) << removed.raw;
    EXPECT_EQ(del(api(), base + "/tpl_dbsnap01", user.access_token).status, 404)
        << "already deleting";
    const auto job = finished_job(api(), project, removed.body["uid"], user.access_token);
    EXPECT_EQ(job["status"], "succeeded") << job.dump();
    EXPECT_EQ(job["type"], "template.delete");
    EXPECT_EQ(query("SELECT status FROM templates WHERE uid = 'tpl_dbsnap01'"), "deleted");
    const auto after = api().get(base, user.access_token);
    ASSERT_EQ(after.body.size(), 1u) << after.raw;
    EXPECT_EQ(after.body[0]["uid"], "tpl_webbase1");
    const auto gone = patch(api(), base + "/tpl_dbsnap01", {{"name", "x"}}, user.access_token);
    EXPECT_EQ(gone.status, 404);
    EXPECT_EQ(gone.body["error"]["code"], "template_not_found");
    EXPECT_EQ(query("SELECT count(*) FROM audit_log WHERE action = 'template.delete'"), "1");
}

TEST_F(apps_templates, instances_are_ordered_from_templates_of_an_image_only) {
    const auto user = sign_up(api(), "templates-order@example.com");
    const std::string project = first_project(api(), user.access_token);
    const std::string base = "/api/v1/projects/" + project + "/instances";
    add_template(*db_url_, "tpl_ubuntu01", project, "ubuntu-base",
                 "image_id, size_gb, min_disk_gb, status",
                 "(SELECT id FROM os_images WHERE uid = 'img_ubuntu2404'), 10, 60, 'ready'");
    add_template(*db_url_, "tpl_backup01", project, "from-a-backup",
                 "backup_snapshot, size_gb, min_disk_gb, status",
                 "'vm/100/2026-06-18T09:14:02Z', 20, 20, 'ready'");
    add_template(*db_url_, "tpl_making01", project, "in-the-making",
                 "image_id, size_gb, min_disk_gb, status",
                 "(SELECT id FROM os_images WHERE uid = 'img_debian12'), 10, 10, 'creating'");
    const std::string instances_before = query("SELECT count(*) FROM instances");

    // The template needs a 60 GB disk; bxs-1 has 40.
    const auto small = api().post(base, template_order("small", "tpl_ubuntu01"), user.access_token);
    EXPECT_EQ(small.status, 400) << small.raw;
    EXPECT_EQ(small.body["error"]["details"]["field"], "plan");
    const auto from_backup =
        api().post(base, template_order("restored", "tpl_backup01"), user.access_token);
    EXPECT_EQ(from_backup.status, 400) << from_backup.raw;
    EXPECT_EQ(from_backup.body["error"]["details"]["field"], "source");
    EXPECT_NE(from_backup.raw.find("backup"), std::string::npos) << from_backup.raw;
    const auto not_ready =
        api().post(base, template_order("early", "tpl_making01"), user.access_token);
    EXPECT_EQ(not_ready.status, 400) << not_ready.raw;
    const auto unknown = api().post(base, template_order("x", "tpl_nope"), user.access_token);
    EXPECT_EQ(unknown.status, 404) << unknown.raw;
    EXPECT_EQ(unknown.body["error"]["code"], "template_not_found");
    EXPECT_EQ(query("SELECT count(*) FROM instances"), instances_before);

    json order = template_order("ubuntu-1", "tpl_ubuntu01");
    order["plan"] = "bxs-2-4";
    const auto created = api().post(base, order, user.access_token);
    ASSERT_EQ(created.status, 202) << created.raw;
    const std::string uid = created.body["instance"]["uid"];
    const auto shown = api().get(base + "/" + uid, user.access_token);
    EXPECT_EQ(shown.body["instance"]["image_name"], "Ubuntu 24.04 LTS");
    EXPECT_EQ(shown.body["instance"]["app_slug"], nullptr);
    EXPECT_EQ(query("SELECT t.uid FROM instances i JOIN templates t ON t.id = i.template_id "
                    "WHERE i.uid = '" +
                    uid + "'"),
              "tpl_ubuntu01");
}
