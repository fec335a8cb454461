// Suble's GET|PUT /billing/details: null until saved; each field checked (the document's
// lengths, a plausible email, a two-letter country, upper-cased) with nothing written on a
// refusal; saved details read back, and the country is the one the account is taxed by.
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/test_helpers.hpp"

#include <gtest/gtest.h>

using namespace vpsfleet::testing;
using json = nlohmann::json;

TEST(billing_details, saved_once_valid_and_read_back) {
    admin_world w;
    const auto jane = sign_up(w.api, "jane@example.com");
    const auto other = sign_up(w.api, "other@example.com");
    auto r = w.api.get("/api/v1/billing/details", jane.access_token);
    ASSERT_EQ(r.status, 200) << r.raw;
    EXPECT_TRUE(r.body.is_null()) << r.raw;

    const json good = {
        {"isCompany", true},         {"name", "Hansen ApS"},      {"email", "ap@hansen.dk"},
        {"street", "Vestergade 12"}, {"zipCode", "8000"},         {"city", "Aarhus"},
        {"country", "dk"},           {"vatNumber", "DK12345678"}, {"eanNumber", "5790000000000"}};
    const auto put = [&](const json& body) {
        return w.api.call("PUT", "/api/v1/billing/details", body,
                          api_client::bearer(jane.access_token));
    };
    const auto with = [&](const std::string& field, const json& value) {
        json body = good;
        if (value.is_null())
            body.erase(field);
        else
            body[field] = value;
        return body;
    };
    for (const auto& [body, field] : std::vector<std::pair<json, std::string>>{
             {with("isCompany", nullptr), "isCompany"},
             {with("name", ""), "name"},
             {with("email", "not-an-email"), "email"},
             {with("street", std::string(161, 's')), "street"},
             {with("zipCode", nullptr), "zipCode"},
             {with("country", "DNK"), "country"},
             {with("country", "1K"), "country"},
             {with("phone", std::string(33, '1')), "phone"}}) {
        r = put(body);
        EXPECT_EQ(r.status, 400) << body.dump() << " -> " << r.raw;
        EXPECT_EQ(r.body["error"]["details"]["field"], field) << r.raw;
    }
    EXPECT_EQ(w.query("SELECT count(*) FROM users WHERE billing_is_company IS NOT NULL"), "0");

    r = put(good);
    ASSERT_EQ(r.status, 204) << r.raw;
    r = w.api.get("/api/v1/billing/details", jane.access_token);
    ASSERT_EQ(r.status, 200) << r.raw;
    json expected = good;
    expected["country"] = "DK";
    expected["phone"] = nullptr;
    EXPECT_EQ(r.body, expected);
    EXPECT_EQ(w.query("SELECT country FROM users WHERE email = 'jane@example.com'"), "DK");
    EXPECT_TRUE(w.api.get("/api/v1/billing/details", other.access_token).body.is_null());

    // Saved again without the optional numbers: they are cleared, not kept.
    r = put(with("eanNumber", nullptr));
    ASSERT_EQ(r.status, 204) << r.raw;
    EXPECT_EQ(w.api.get("/api/v1/billing/details", jane.access_token).body["eanNumber"], nullptr);
}
