// Stripe webhook verification: signatures, timestamps and header forms, with a fixed clock.
#include "coordinator/billing/stripe_webhook.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

using namespace vpsfleet;
using namespace std::chrono_literals;
using billing::verify_stripe_webhook;
using billing::webhook_verdict;

namespace {

constexpr std::int64_t k_t = 1'700'000'000;
const std::string k_secret = "whsec_test_secret";
const std::string k_body =
    R"({"id":"evt_1","object":"event","type":"payment_intent.succeeded","created":1700000000,)"
    R"("data":{"object":{"id":"pi_1","amount":12500}}})";
// HMAC-SHA256("whsec_test_secret", "1700000000." + k_body), computed with Python's hmac module.
const std::string k_v1 = "44311889a92c7718343652dc3ecf7cc017d4c9cfd4abb7412b110ee79bde583b";

std::chrono::system_clock::time_point at(std::int64_t unix_seconds) {
    return std::chrono::system_clock::time_point(std::chrono::seconds(unix_seconds));
}

// The signer's side, written out here so the test does not trust the code under test.
std::string sign(std::int64_t t, const std::string& body, const std::string& secret) {
    const std::string payload = std::to_string(t) + "." + body;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), mac, &n);
    std::string hex;
    char byte[3];
    for (unsigned int i = 0; i < n; ++i) {
        std::snprintf(byte, sizeof byte, "%02x", mac[i]);
        hex += byte;
    }
    return hex;
}

std::string header(std::int64_t t, const std::string& v1) {
    return "t=" + std::to_string(t) + ",v1=" + v1;
}

webhook_verdict verdict(const std::string& body, const std::string& signature_header,
                        std::int64_t now = k_t, const std::string& secret = k_secret) {
    return verify_stripe_webhook(body, signature_header, secret, 300s, at(now)).verdict;
}

}  // namespace

TEST(stripe_webhook, accepts_a_correctly_signed_event_and_parses_it) {
    ASSERT_EQ(sign(k_t, k_body, k_secret), k_v1);
    const auto result = verify_stripe_webhook(k_body, header(k_t, k_v1), k_secret, 300s, at(k_t));
    ASSERT_EQ(result.verdict, webhook_verdict::ok);
    EXPECT_EQ(result.event.id, "evt_1");
    EXPECT_EQ(result.event.type, "payment_intent.succeeded");
    EXPECT_EQ(result.event.created, k_t);
    EXPECT_EQ(result.event.data_object.at("id"), "pi_1");
    EXPECT_EQ(result.event.data_object.at("amount"), 12500);
}

TEST(stripe_webhook, refuses_a_body_changed_after_signing) {
    std::string altered = k_body;
    altered.replace(altered.find("12500"), 5, "99999");
    EXPECT_EQ(verdict(altered, header(k_t, k_v1)), webhook_verdict::bad_signature);
    // Even whitespace matters: the raw bytes are signed, not the JSON they encode.
    EXPECT_EQ(verdict(k_body + "\n", header(k_t, k_v1)), webhook_verdict::bad_signature);
}

TEST(stripe_webhook, refuses_a_signature_made_with_another_secret) {
    const std::string other = sign(k_t, k_body, "whsec_someone_else");
    EXPECT_EQ(verdict(k_body, header(k_t, other)), webhook_verdict::bad_signature);
    // The secret is used with its whsec_ prefix, as Stripe does.
    const std::string without_prefix = sign(k_t, k_body, "test_secret");
    EXPECT_EQ(verdict(k_body, header(k_t, without_prefix)), webhook_verdict::bad_signature);
    EXPECT_EQ(verdict(k_body, header(k_t, k_v1), k_t, ""), webhook_verdict::bad_signature);
}

TEST(stripe_webhook, refuses_a_timestamp_signed_with_the_body_when_it_is_changed) {
    // A replayed request with a fresh t but the old v1 does not verify.
    EXPECT_EQ(verdict(k_body, header(k_t + 60, k_v1), k_t + 60), webhook_verdict::bad_signature);
}

TEST(stripe_webhook, a_signed_event_older_than_the_tolerance_is_stale) {
    EXPECT_EQ(verdict(k_body, header(k_t, k_v1), k_t + 300), webhook_verdict::ok);
    EXPECT_EQ(verdict(k_body, header(k_t, k_v1), k_t + 301), webhook_verdict::stale);
    EXPECT_EQ(verdict(k_body, header(k_t, k_v1), k_t + 86'400), webhook_verdict::stale);
    const auto wide =
        verify_stripe_webhook(k_body, header(k_t, k_v1), k_secret, 3600s, at(k_t + 3000));
    EXPECT_EQ(wide.verdict, webhook_verdict::ok);
}

TEST(stripe_webhook, a_timestamp_further_in_the_future_than_the_tolerance_is_stale) {
    EXPECT_EQ(verdict(k_body, header(k_t, k_v1), k_t - 300), webhook_verdict::ok);
    EXPECT_EQ(verdict(k_body, header(k_t, k_v1), k_t - 301), webhook_verdict::stale);
}

TEST(stripe_webhook, a_forged_old_request_is_a_bad_signature_not_stale) {
    EXPECT_EQ(verdict(k_body, header(k_t, std::string(64, 'a')), k_t + 10'000),
              webhook_verdict::bad_signature);
}

TEST(stripe_webhook, any_matching_v1_is_enough_and_v0_is_ignored) {
    const std::string old_secret_sig = sign(k_t, k_body, "whsec_old");
    const std::string t = "t=" + std::to_string(k_t);
    EXPECT_EQ(verdict(k_body, t + ",v1=" + old_secret_sig + ",v1=" + k_v1), webhook_verdict::ok);
    EXPECT_EQ(verdict(k_body, t + ",v1=" + k_v1 + ",v1=" + old_secret_sig), webhook_verdict::ok);
    EXPECT_EQ(verdict(k_body, "v1=" + k_v1 + "," + t + ",v0=" + old_secret_sig),
              webhook_verdict::ok);
    EXPECT_EQ(verdict(k_body, t + ", v1=" + k_v1), webhook_verdict::ok);  // spaces around items
    EXPECT_EQ(verdict(k_body, t + ",v1=" + k_v1 + ",scheme2=whatever"), webhook_verdict::ok);
    // The hex may come in upper case.
    std::string upper = k_v1;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_EQ(verdict(k_body, header(k_t, upper)), webhook_verdict::ok);
    // A valid signature only under v0 (Stripe's test-mode scheme) does not count.
    EXPECT_EQ(verdict(k_body, t + ",v1=" + old_secret_sig + ",v0=" + k_v1),
              webhook_verdict::bad_signature);
}

TEST(stripe_webhook, v1_values_that_are_not_sha256_hex_match_nothing) {
    const std::string t = "t=" + std::to_string(k_t);
    EXPECT_EQ(verdict(k_body, t + ",v1=xyz"), webhook_verdict::bad_signature);
    EXPECT_EQ(verdict(k_body, t + ",v1=" + k_v1.substr(0, 62)), webhook_verdict::bad_signature);
    EXPECT_EQ(verdict(k_body, t + ",v1=" + k_v1 + "00"), webhook_verdict::bad_signature);
    EXPECT_EQ(verdict(k_body, t + ",v1=,v1=" + k_v1), webhook_verdict::ok);
}

TEST(stripe_webhook, malformed_headers_are_refused_as_such) {
    const std::string t = "t=" + std::to_string(k_t);
    for (const std::string& bad : {
             std::string(), std::string("garbage"),
             "v1=" + k_v1,                            // no timestamp
             t,                                       // no signature
             t + ",v0=" + k_v1,                       // no v1
             "t=abc,v1=" + k_v1,                      // not a number
             "t=-5,v1=" + k_v1,                       // not a number either
             "t=,v1=" + k_v1,                         // empty timestamp
             "t=1700000000,t=1700000001,v1=" + k_v1,  // two timestamps
             t + ",v1",                               // an item without =
             t + ",=" + k_v1,                         // an item without a name
             "t=17000000000000000000000,v1=" + k_v1,  // overflows
         }) {
        EXPECT_EQ(verdict(k_body, bad), webhook_verdict::malformed_header) << bad;
    }
}

TEST(stripe_webhook, a_signed_body_that_is_not_an_event_is_a_bad_payload) {
    for (const std::string& body :
         {std::string("not json"), std::string("[]"),
          std::string(R"({"id":"evt_1","type":"x","created":1})"),
          std::string(R"({"id":1,"type":"x","created":1,"data":{"object":{}}})")}) {
        EXPECT_EQ(verdict(body, header(k_t, sign(k_t, body, k_secret))),
                  webhook_verdict::bad_payload)
            << body;
    }
}

TEST(stripe_webhook, verdicts_have_stable_names) {
    EXPECT_EQ(billing::verdict_name(webhook_verdict::ok), "ok");
    EXPECT_EQ(billing::verdict_name(webhook_verdict::malformed_header), "malformed_header");
    EXPECT_EQ(billing::verdict_name(webhook_verdict::bad_signature), "bad_signature");
    EXPECT_EQ(billing::verdict_name(webhook_verdict::stale), "stale");
    EXPECT_EQ(billing::verdict_name(webhook_verdict::bad_payload), "bad_payload");
}
