// Email verification on a real coordinator process and PostgreSQL: sign-up mails a link with a
// single-use token (stored only hashed) through the mail outbox, ordering an instance is refused
// with 403 email_unverified until the link is opened, and a signed-in user can ask for a new link.
// Instances are ordered with no host in the fleet: the order is accepted, its job fails later.
#include "tests/integration/api_fixture.hpp"
#include "tests/integration/test_helpers.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>

using namespace vpsfleet::testing;
using namespace std::chrono_literals;
using json = nlohmann::json;

namespace {

class email_verification : public coordinator_suite {
  protected:
    static void SetUpTestSuite() { start_suite("api:\n  public_url: https://panel.example.com\n"); }

    // A sign-up as a new customer makes it: no link opened yet.
    signed_up sign_up_unverified(const std::string& email) const {
        const auto r = api().post("/api/v1/auth/signup", {{"email", email},
                                                          {"password", "correct horse battery"},
                                                          {"fullname", "New Customer"}});
        EXPECT_EQ(r.status, 201) << r.raw;
        return {email, "correct horse battery", r.body.value("access_token", ""),
                r.body.value("refresh_token", "")};
    }
    std::string token_for(const std::string& email) const {
        return verification_token(*db_url_, email);
    }
    api_reply verify(const std::string& token) const {
        return api().post("/api/v1/auth/verify-email", {{"token", token}});
    }
    api_reply order(const std::string& name, const std::string& credential) const {
        return api().post("/api/v1/projects/" + first_project(api(), credential) + "/instances",
                          instance_order(name), credential);
    }
    bool verified(const std::string& token) const {
        return api().get("/api/v1/me", token).body.value("emailVerified", false);
    }
};

}  // namespace

TEST_F(email_verification, ordering_waits_until_the_mailed_link_is_opened) {
    const auto user = sign_up_unverified("Fresh@Example.com");
    EXPECT_FALSE(verified(user.access_token));

    // The mail is queued with the sign-up, to the stored (lower-case) address, with a link.
    EXPECT_EQ(query("SELECT count(*) FROM mail_outbox WHERE to_address = 'fresh@example.com' AND "
                    "subject = 'Confirm your email address' AND body LIKE "
                    "'%https://panel.example.com/verify-email?token=%'"),
              "1");
    const std::string token = token_for(user.email);
    ASSERT_EQ(token.size(), 43u);
    EXPECT_EQ(query("SELECT count(*) FROM email_verification_tokens WHERE token_hash = '" + token +
                    "' OR email <> 'fresh@example.com'"),
              "0")
        << "the token is stored only hashed";
    EXPECT_EQ(query("SELECT count(*) FROM email_verification_tokens WHERE token_hash = "
                    "encode(sha256(convert_to('" +
                    token + "', 'UTF8')), 'hex')"),
              "1");

    const std::string writes =
        "SELECT (SELECT count(*) FROM instances) || '/' || (SELECT count(*) FROM jobs) || '/' || "
        "(SELECT count(*) FROM audit_log WHERE action = 'instance.create')";
    const std::string before = query(writes);
    const auto refused = order("early", user.access_token);
    EXPECT_EQ(refused.status, 403) << refused.raw;
    EXPECT_EQ(refused.body["error"]["code"], "email_unverified");
    EXPECT_NE(refused.body["error"]["message"].get<std::string>().find("/auth/verify-email/resend"),
              std::string::npos);
    EXPECT_EQ(query(writes), before) << "nothing written";

    const auto confirmed = verify(token);
    EXPECT_EQ(confirmed.status, 204) << confirmed.raw;
    EXPECT_TRUE(verified(user.access_token));
    EXPECT_EQ(query("SELECT count(*) FROM audit_log a JOIN users u ON u.id = a.actor_id WHERE "
                    "a.action = 'user.verify_email' AND u.email = 'fresh@example.com' AND "
                    "a.after->>'emailVerified' = 'true'"),
              "1");

    const auto ordered = order("after", user.access_token);
    EXPECT_EQ(ordered.status, 202) << ordered.raw;
}

TEST_F(email_verification, a_link_works_once_and_not_after_it_expires) {
    const auto user = sign_up_unverified("once@example.com");
    const std::string token = token_for(user.email);

    const auto missing = api().post("/api/v1/auth/verify-email", json::object());
    EXPECT_EQ(missing.status, 400);
    EXPECT_EQ(missing.body["error"]["code"], "invalid_request");
    const auto garbage = verify("not a token");
    EXPECT_EQ(garbage.status, 400);
    EXPECT_EQ(garbage.body["error"]["code"], "invalid_token");
    const auto unknown = verify(std::string(43, 'A'));
    EXPECT_EQ(unknown.status, 400);
    EXPECT_EQ(unknown.body["error"]["code"], "invalid_token");

    exec_sql(*db_url_,
             "UPDATE email_verification_tokens SET expires_at = now() - interval '1 second' "
             "WHERE email = 'once@example.com'");
    const auto expired = verify(token);
    EXPECT_EQ(expired.status, 400) << expired.raw;
    EXPECT_EQ(expired.body["error"]["code"], "token_expired");
    EXPECT_NE(expired.body["error"]["message"].get<std::string>().find("expired"),
              std::string::npos);
    EXPECT_FALSE(verified(user.access_token)) << "refused tokens change nothing";

    exec_sql(*db_url_,
             "UPDATE email_verification_tokens SET expires_at = now() + interval '1 hour' "
             "WHERE email = 'once@example.com'");
    EXPECT_EQ(verify(token).status, 204);
    const auto reused = verify(token);
    EXPECT_EQ(reused.status, 400) << reused.raw;
    EXPECT_EQ(reused.body["error"]["code"], "token_used");
    EXPECT_TRUE(verified(user.access_token));
}

TEST_F(email_verification, resend_mails_a_new_link_that_replaces_the_old_one) {
    const auto user = sign_up_unverified("resend@example.com");
    const std::string first = token_for(user.email);
    const std::string resend = "/api/v1/auth/verify-email/resend";

    EXPECT_EQ(api().post(resend, nullptr).status, 401) << "for a signed-in user only";
    const auto too_soon = api().post(resend, nullptr, user.access_token);
    EXPECT_EQ(too_soon.status, 429) << too_soon.raw;
    EXPECT_EQ(too_soon.body["error"]["code"], "verification_recently_sent");
    EXPECT_GT(too_soon.body["error"]["details"]["retry_after"].get<int>(), 0);

    exec_sql(*db_url_,
             "UPDATE email_verification_tokens SET created_at = now() - interval '2 minutes' "
             "WHERE email = 'resend@example.com'");
    const auto sent = api().post(resend, nullptr, user.access_token);
    EXPECT_EQ(sent.status, 204) << sent.raw;
    EXPECT_EQ(query("SELECT count(*) FROM mail_outbox WHERE to_address = 'resend@example.com' "
                    "AND subject = 'Confirm your email address'"),
              "2");
    const std::string second = token_for(user.email);
    ASSERT_FALSE(second.empty());
    EXPECT_NE(second, first);

    const auto replaced = verify(first);
    EXPECT_EQ(replaced.status, 400);
    EXPECT_EQ(replaced.body["error"]["code"], "token_expired");
    EXPECT_EQ(verify(second).status, 204);
    EXPECT_TRUE(verified(user.access_token));

    const auto done = api().post(resend, nullptr, user.access_token);
    EXPECT_EQ(done.status, 409) << done.raw;
    EXPECT_EQ(done.body["error"]["code"], "email_already_verified");
}

TEST_F(email_verification, an_api_key_orders_only_once_its_owner_is_verified) {
    const auto user = sign_up_unverified("keyowner@example.com");
    const std::string project = first_project(api(), user.access_token);
    const auto key = api().post(
        "/api/v1/projects/" + project + "/api-keys",
        {{"name", "deploy"}, {"permissions", json::array({"READ_API", "ORDER_PRODUCT"})}},
        user.access_token);
    ASSERT_EQ(key.status, 201) << key.raw;
    const std::string secret = key.body["secret"];

    const auto refused = order("by-key", secret);
    EXPECT_EQ(refused.status, 403) << refused.raw;
    EXPECT_EQ(refused.body["error"]["code"], "email_unverified");
    EXPECT_EQ(query("SELECT count(*) FROM instances WHERE name = 'by-key'"), "0");

    ASSERT_EQ(verify(token_for(user.email)).status, 204);
    const auto ordered = order("by-key", secret);
    EXPECT_EQ(ordered.status, 202) << ordered.raw;
}

TEST_F(email_verification, fixture_accounts_are_verified_and_can_order) {
    // sign_up (the fixture every other test uses) opens the link as a customer would.
    const auto user = sign_up(api(), "fixture@example.com");
    EXPECT_TRUE(verified(user.access_token));
    EXPECT_EQ(order("fixture", user.access_token).status, 202);
}
