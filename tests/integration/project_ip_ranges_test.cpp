// Project IP ranges: staff record a project's own prefixes through the admin API (overlaps and
// bad prefixes refused, nothing written), and the project lists them through the customer API
// (Suble's GET /projects/{p}/ip-ranges, IPv4 first), with an API key that holds READ_COLOCATION
// and not without it; another customer's project is not found.
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/test_helpers.hpp"

#include <gtest/gtest.h>

using namespace vpsfleet::testing;
using json = nlohmann::json;

TEST(project_ip_ranges, staff_record_them_and_the_project_lists_its_own) {
    admin_world w;
    const auto owner = sign_up(w.api, "colo@example.com");
    const auto other = sign_up(w.api, "other@example.com");
    const std::string project = first_project(w.api, owner.access_token);
    const auto project_id =
        std::stoll(w.query("SELECT id FROM projects WHERE uid = '" + project + "'"));
    const auto other_id =
        std::stoll(w.query("SELECT p.id FROM projects p JOIN users u ON u.id = p.owner_user_id "
                           "WHERE u.email = 'other@example.com'"));

    auto r = w.call("POST", "/project_ip_ranges",
                    {{"project_id", project_id},
                     {"cidr", "2a0e:97c0:df0::/48"},
                     {"source", "transit"},
                     {"description", "IPv6 PI block"}});
    ASSERT_EQ(r.status, 201) << r.raw;
    EXPECT_EQ(r.body["data"]["family"], 6);
    EXPECT_EQ(r.body["data"]["project_uid"], project);
    r = w.call("POST", "/project_ip_ranges",
               {{"project_id", project_id},
                {"cidr", "185.246.88.0/24"},
                {"source", "colocation"},
                {"description", "Primary transit allocation (DK1)"}});
    ASSERT_EQ(r.status, 201) << r.raw;
    const auto v4 = r.body["data"];

    struct refusal {
        json body;
        int status;
    };
    for (const auto& [body, status] : std::vector<refusal>{
             {{{"project_id", project_id}, {"cidr", "185.246.88.1/24"}, {"source", "transit"}},
              400},
             {{{"project_id", project_id}, {"cidr", "10.0.0.0/8"}, {"source", "leased"}}, 400},
             {{{"cidr", "10.0.0.0/8"}, {"source", "transit"}}, 400},
             {{{"project_id", 999999}, {"cidr", "10.0.0.0/8"}, {"source", "transit"}}, 404},
             {{{"project_id", other_id}, {"cidr", "185.246.88.128/25"}, {"source", "transit"}},
              409}}) {
        const auto refused = w.call("POST", "/project_ip_ranges", body);
        EXPECT_EQ(refused.status, status) << body.dump() << " -> " << refused.raw;
        EXPECT_TRUE(refused.body["error"].is_string()) << refused.raw;
    }
    EXPECT_EQ(
        w.call("POST", "/project_ip_ranges",
               {{"project_id", other_id}, {"cidr", "10.0.0.0/8"}, {"source", "transit"}}, w.viewer)
            .status,
        403);
    EXPECT_EQ(w.query("SELECT count(*) FROM project_ip_ranges"), "2");
    EXPECT_EQ(
        w.call("GET", "/project_ip_ranges?project_id=" + std::to_string(project_id)).body["total"],
        2);
    EXPECT_EQ(
        w.call("GET", "/project_ip_ranges?project_id=" + std::to_string(other_id)).body["total"],
        0);

    const std::string path = "/api/v1/projects/" + project + "/ip-ranges";
    r = w.api.get(path, owner.access_token);
    ASSERT_EQ(r.status, 200) << r.raw;
    ASSERT_EQ(r.body.size(), 2u) << r.raw;
    EXPECT_EQ(r.body[0]["uid"], v4["uid"]);
    EXPECT_EQ(r.body[0]["cidr"], "185.246.88.0/24");
    EXPECT_EQ(r.body[0]["family"], 4);
    EXPECT_EQ(r.body[0]["source"], "colocation");
    EXPECT_EQ(r.body[0]["description"], "Primary transit allocation (DK1)");
    EXPECT_EQ(r.body[0]["createdAt"].get<std::string>().size(), 24u) << r.raw;
    EXPECT_EQ(r.body[1]["cidr"], "2a0e:97c0:df0::/48");

    EXPECT_EQ(w.api.get(path, other.access_token).status, 404);
    const auto key = [&](int permissions) {
        return w.api
            .post("/api/v1/projects/" + project + "/api-keys",
                  {{"name", "k" + std::to_string(permissions)}, {"permissions", permissions}},
                  owner.access_token)
            .body["secret"]
            .get<std::string>();
    };
    EXPECT_EQ(w.api.get(path, key(16)).status, 200);  // READ_COLOCATION
    EXPECT_EQ(w.api.get(path, key(64)).status, 403);  // READ_API only

    r = w.call("DELETE", "/project_ip_ranges/" + v4["id"].dump());
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_EQ(w.api.get(path, owner.access_token).body.size(), 1u);
    EXPECT_EQ(w.call("DELETE", "/project_ip_ranges/" + v4["id"].dump()).status, 404);
}
