// The contract helper read against the customer API's own document: which bodies it builds, how
// it reads the error codes out of the descriptions, and what it reports about an answer.
#include "tests/support/openapi_contract.hpp"

#include <gtest/gtest.h>

#include <algorithm>

using json = nlohmann::json;
namespace contract = vpsfleet::testing::contract;

namespace {

contract::operation op(const std::string& method, const std::string& path) {
    const auto found = contract::find_operation(method, path);
    if (!found) throw std::runtime_error("no " + method + " " + path);
    return *found;
}

bool mentions(const std::vector<std::string>& lines, const std::string& text) {
    return std::any_of(lines.begin(), lines.end(),
                       [&](const std::string& l) { return l.find(text) != std::string::npos; });
}

}  // namespace

TEST(openapi_contract, finds_operations_by_method_and_templated_path) {
    const auto create = op("post", "/projects/{project}/instances");
    EXPECT_EQ(create.name(), "POST /projects/{project}/instances");
    EXPECT_TRUE(create.has_request_body());
    EXPECT_EQ(create.target({{"project", "prj_1"}}), "/api/v1/projects/prj_1/instances");
    EXPECT_THROW(create.target(), std::invalid_argument);
    EXPECT_FALSE(contract::find_operation("GET", "/projects/{project}/nothing"));
    EXPECT_FALSE(contract::find_operation("PUT", "/me"));
    EXPECT_FALSE(op("GET", "/me").has_request_body());
}

TEST(openapi_contract, rejected_bodies_are_one_defect_away_from_a_valid_one) {
    const auto login = op("POST", "/auth/login");
    const json valid = {{"email", "a@example.com"}, {"password", "secret"}};
    const auto bodies = contract::rejected_bodies(login, valid);
    // Two bodies that are not objects, two required properties missing, three wrong types.
    ASSERT_EQ(bodies.size(), 7u);
    std::vector<std::string> why;
    for (const auto& b : bodies) why.push_back(b.why);
    EXPECT_TRUE(mentions(why, "not an object"));
    EXPECT_TRUE(mentions(why, "the required `email` is missing"));
    EXPECT_TRUE(mentions(why, "`code` is a number, the schema says string"));
    for (const auto& b : bodies) {
        if (b.why == "the required `password` is missing") {
            EXPECT_EQ(b.body, json({{"email", "a@example.com"}}));
        }
    }
    // The document's own example is the default valid body.
    EXPECT_EQ(contract::rejected_bodies(login).size(), 7u);
    EXPECT_THROW(contract::rejected_bodies(login, {{"email", "a@example.com"}}),
                 std::invalid_argument);
    EXPECT_TRUE(contract::rejected_bodies(op("GET", "/me")).empty());

    const auto alerts = contract::rejected_bodies(op("POST", "/billing/alerts"));
    const auto wrong = std::find_if(alerts.begin(), alerts.end(), [](const auto& b) {
        return b.why.starts_with("`thresholdOre` is a");
    });
    ASSERT_NE(wrong, alerts.end());
    EXPECT_EQ(wrong->body["thresholdOre"], "12345")
        << "an integer's impostor is digits in a string";
}

TEST(openapi_contract, error_codes_come_from_the_head_of_each_description) {
    EXPECT_EQ(contract::documented_codes(op("POST", "/projects"), 400),
              std::vector<std::string>{"invalid_name"});
    EXPECT_EQ(contract::documented_codes(op("POST", "/projects/{project}/instances"), 402),
              std::vector<std::string>{"billing_<reason>"});
    // "— — Auth layer ..." and "Invalid API key. — ..." name no code.
    EXPECT_TRUE(contract::documented_codes(op("GET", "/projects/{project}/api-keys"), 401).empty());
    EXPECT_TRUE(contract::documented_codes(op("GET", "/projects/{project}/jobs"), 401).empty());
    EXPECT_TRUE(
        contract::documented_codes(op("GET", "/projects/{project}/ip-ranges"), 401).empty());
    EXPECT_TRUE(contract::documented_codes(op("POST", "/projects"), 404).empty());

    EXPECT_TRUE(contract::code_matches("billing_<reason>", "billing_insufficient_credit"));
    EXPECT_FALSE(contract::code_matches("billing_<reason>", "billing_"));
    EXPECT_FALSE(contract::code_matches("billing_<reason>", "payment_insufficient_credit"));
    EXPECT_TRUE(contract::code_matches("name_taken", "name_taken"));
    EXPECT_FALSE(contract::code_matches("name_taken", "name_taken_2"));
}

TEST(openapi_contract, check_response_names_each_disagreement) {
    const auto show = op("GET", "/projects/{project}/instances/{instance}");
    json answer = {{"instance",
                    {{"uid", "ins_1"},
                     {"name", "web"},
                     {"status", "running"},
                     {"power_state", "running"},
                     {"backup_tier", "none"},
                     {"error_code", "x"},
                     {"error_message", nullptr},
                     {"created_at", "t"},
                     {"plan_code", "bxs-1"},
                     {"primary_ip", "192.0.2.2"},
                     {"image_name", "Debian"},
                     {"app_slug", nullptr},
                     {"app_name", nullptr},
                     {"job_uid", nullptr},
                     {"job_type", nullptr},
                     {"progress_step", 1},
                     {"progress_total", nullptr},
                     {"progress_percent", 1.5},
                     {"progress_message", nullptr},
                     {"root_password", "pw"}}}};
    EXPECT_TRUE(contract::check_response(show, 200, answer).empty())
        << contract::join(contract::check_response(show, 200, answer));

    answer["instance"].erase("plan_code");
    answer["instance"]["name"] = 7;
    answer["instance"]["primary_ip"] = nullptr;
    const auto lines = contract::check_response(show, 200, answer);
    EXPECT_EQ(lines.size(), 3u) << contract::join(lines);
    EXPECT_TRUE(mentions(lines,
                         "GET /projects/{project}/instances/{instance} 200: "
                         "instance.plan_code is missing"));
    EXPECT_TRUE(mentions(lines, "instance.name is a number, the example has a string"));
    EXPECT_TRUE(mentions(lines, "instance.primary_ip is null"));

    // Arrays compare their first elements when both have one.
    const auto list = op("GET", "/billing/alerts");
    EXPECT_TRUE(contract::check_response(list, 200, json::array()).empty());
    EXPECT_TRUE(mentions(contract::check_response(list, 200, {{{"thresholdOre", 1}}}),
                         "[0].armed is missing"));

    EXPECT_TRUE(
        contract::check_response(show, 404, {{"error", {{"code", "instance_not_found"}}}}).empty());
    EXPECT_TRUE(
        mentions(contract::check_response(show, 404, {{"error", {{"code", "project_not_found"}}}}),
                 "error code project_not_found is not the document's (instance_not_found)"));
    EXPECT_TRUE(mentions(contract::check_response(show, 404, {{"error", "Not found"}}),
                         "not the error shape"));
    EXPECT_TRUE(mentions(contract::check_response(show, 409, {{"error", {{"code", "x"}}}}),
                         "the document lists only 200, 404"));
    EXPECT_TRUE(mentions(contract::check_response(op("DELETE", "/account/sshkeys/{key}"), 204,
                                                  {{"unexpected", true}}),
                         "a 204 has a body"));
}
