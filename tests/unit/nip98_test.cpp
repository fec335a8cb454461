// NIP-98 verification against events signed here with libsecp256k1 (BIP-340 Schnorr): a good
// event is accepted, and each thing the server must check refuses the request when it is wrong.
#include "coordinator/auth/nip98.hpp"

#include "common/secrets.hpp"
#include "coordinator/auth/auth_failure.hpp"
#include "tests/support/nostr_signer.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

using json = nlohmann::json;
using vpsfleet::auth::auth_failure;
using vpsfleet::auth::nip98_request;
using vpsfleet::auth::verify_nip98;
using vpsfleet::testing::nostr_signer;

namespace {

constexpr std::int64_t k_now = 1'790'000'000;
const std::string k_url = "https://panel.example.com/api/admin/v1/users?limit=10";

json http_event(const std::string& url, const std::string& method, std::int64_t at = k_now) {
    return nostr_signer::http_event(url, method, at);
}

std::string header(const json& event) { return nostr_signer::base64(event); }

nip98_request get_request(std::string_view body = {}) { return {"GET", {k_url}, body, k_now}; }

std::string refusal(const json& event, const nip98_request& request) {
    try {
        verify_nip98(header(event), request);
    } catch (const auth_failure& e) {
        EXPECT_EQ(e.code, "invalid_nostr_auth");
        return e.what();
    }
    return "accepted";
}

}  // namespace

TEST(nip98, a_signed_event_for_this_request_names_its_pubkey) {
    const nostr_signer alice(7);
    const auto event = alice.sign(http_event(k_url, "GET"));
    const auto identity = verify_nip98(header(event), get_request());
    EXPECT_EQ(identity.pubkey, alice.pubkey());
    EXPECT_EQ(identity.event_id, event["id"]);
    // The id is NIP-01's: SHA-256 of the compact array, written out by hand here.
    const std::string serialized = "[0,\"" + alice.pubkey() + "\"," + std::to_string(k_now) +
                                   ",27235,[[\"u\",\"" + k_url + "\"],[\"method\",\"GET\"]],\"\"]";
    EXPECT_EQ(identity.event_id, vpsfleet::secrets::sha256_hex(serialized));
    // Within the minute either way.
    EXPECT_NO_THROW(verify_nip98(header(event), {"GET", {k_url}, {}, k_now + 59}));
}

TEST(nip98, each_check_refuses_a_request_it_does_not_cover) {
    const nostr_signer alice(7);
    const auto good = alice.sign(http_event(k_url, "GET"));

    EXPECT_NE(refusal(good, {"GET", {k_url}, {}, k_now + 61}).find("too old"), std::string::npos);
    EXPECT_NE(refusal(good, {"GET", {k_url}, {}, k_now - 61}).find("too old"), std::string::npos);
    EXPECT_NE(refusal(good, {"DELETE", {k_url}, {}, k_now}).find("method"), std::string::npos);
    EXPECT_NE(refusal(good, {"GET", {k_url + "0"}, {}, k_now}).find("u tag"), std::string::npos);

    auto tampered = good;
    tampered["tags"][0][1] = "https://panel.example.com/api/admin/v1/users";
    EXPECT_NE(refusal(tampered, get_request()).find("id does not match"), std::string::npos);
    auto forged = alice.sign(http_event(k_url, "GET"));
    forged["pubkey"] = nostr_signer(9).pubkey();
    forged["id"] = nostr_signer(9).sign(http_event(k_url, "GET"))["id"];
    EXPECT_NE(refusal(forged, get_request()).find("signature"), std::string::npos);

    auto wrong_kind = http_event(k_url, "GET");
    wrong_kind["kind"] = 1;
    EXPECT_NE(refusal(alice.sign(wrong_kind), get_request()).find("kind"), std::string::npos);

    // A body must be covered by the payload tag.
    const std::string body = R"({"name":"eu-west"})";
    const nip98_request post{"POST", {k_url}, body, k_now};
    EXPECT_NE(refusal(alice.sign(http_event(k_url, "POST")), post).find("payload"),
              std::string::npos);
    const auto with_payload = nostr_signer::http_event(k_url, "POST", k_now, body);
    EXPECT_EQ(refusal(alice.sign(with_payload), post), "accepted");
    EXPECT_NE(
        refusal(alice.sign(with_payload), {"POST", {k_url}, body + " ", k_now}).find("payload"),
        std::string::npos);

    EXPECT_THROW(verify_nip98("not base64!", get_request()), auth_failure);
    EXPECT_THROW(verify_nip98("eyJ4IjoxfQ==", get_request()), auth_failure);  // {"x":1}
}
