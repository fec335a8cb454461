// The MikroTik router client against a fake RouterOS REST server over real loopback sockets.
#include "coordinator/ipam/router_client.hpp"
#include "common/pki.hpp"
#include "tests/support/fake_routeros.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>

using namespace vpsfleet;
using namespace std::chrono_literals;
using vpsfleet::testing::fake_routeros;

namespace {

ipam::arp_entry vm_entry(const std::string& ip = "203.0.113.10") {
    return {ip, "52:54:00:ab:cd:ef", "bridge-vms", "vm 42"};
}

std::unique_ptr<ipam::router_client> client_for(const fake_routeros& router, std::string token = {},
                                                std::chrono::milliseconds timeout = 5s,
                                                std::string ca_pem = {}) {
    if (token.empty()) token = router.token();
    return ipam::make_router_client({"mikrotik", router.url(), std::move(token)},
                                    {std::move(ca_pem), timeout});
}

// The router_error `call` throws; fails the test if it throws nothing or something else.
ipam::router_error error_of(const std::function<void()>& call) {
    try {
        call();
    } catch (const ipam::router_error& e) {
        return e;
    }
    ADD_FAILURE() << "no router_error thrown";
    return ipam::router_error("none", "");
}

// A loopback port nothing listens on.
std::uint16_t closed_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    close(fd);
    return ntohs(addr.sin_port);
}

struct tls_router {
    pki::ca authority = pki::create_ca("fake RouterOS CA", 1h);
    std::unique_ptr<fake_routeros> router;

    tls_router() {
        const auto key = pki::generate_p256_key();
        const auto cert =
            pki::issue_server_certificate(authority, key.private_key_pem, {"127.0.0.1"}, 1h);
        vpsfleet::testing::fake_routeros_options options;
        options.certificate_pem = cert.certificate_pem;
        options.private_key_pem = key.private_key_pem;
        router = std::make_unique<fake_routeros>(options);
    }
};

}  // namespace

TEST(router_client, adds_lists_and_removes_a_static_arp_entry) {
    fake_routeros router;
    auto client = client_for(router);

    const std::string ref = client->add_arp(vm_entry());
    EXPECT_EQ(ref, "*1");
    auto table = router.arp_table();
    ASSERT_EQ(table.size(), 1u);
    EXPECT_EQ(table[0].address, "203.0.113.10");
    EXPECT_EQ(table[0].mac_address, "52:54:00:AB:CD:EF");
    EXPECT_EQ(table[0].interface, "bridge-vms");
    EXPECT_EQ(table[0].comment, "vm 42");

    client->add_arp({"203.0.113.11", "52:54:00:00:00:01", "ether1", ""});
    const auto listed = client->list_arp();
    ASSERT_EQ(listed.size(), 2u);
    EXPECT_EQ(listed[0].first, ref);
    EXPECT_EQ(listed[0].second.ip, "203.0.113.10");
    EXPECT_EQ(listed[0].second.mac, "52:54:00:AB:CD:EF");
    EXPECT_EQ(listed[0].second.interface, "bridge-vms");
    EXPECT_EQ(listed[0].second.comment, "vm 42");
    EXPECT_EQ(listed[1].second.ip, "203.0.113.11");
    EXPECT_EQ(listed[1].second.comment, "");

    client->remove_arp(ref);
    table = router.arp_table();
    ASSERT_EQ(table.size(), 1u);
    EXPECT_EQ(table[0].address, "203.0.113.11");

    const auto calls = router.calls();
    EXPECT_EQ(calls.add, 2u);
    EXPECT_EQ(calls.list, 1u);
    EXPECT_EQ(calls.remove, 1u);
    EXPECT_EQ(calls.unauthorized, 0u);
}

TEST(router_client, removing_an_entry_that_is_already_gone_succeeds) {
    fake_routeros router;
    auto client = client_for(router);
    const std::string ref = client->add_arp(vm_entry());
    client->remove_arp(ref);

    EXPECT_NO_THROW(client->remove_arp(ref));
    EXPECT_NO_THROW(client->remove_arp("*FF"));
    EXPECT_EQ(router.calls().remove, 3u);  // each one asked the router
    EXPECT_TRUE(router.arp_table().empty());
}

TEST(router_client, refuses_a_reference_that_is_not_a_routeros_id_without_calling_the_router) {
    fake_routeros router;
    auto client = client_for(router);
    for (const std::string ref : {"", "*", "1A", "*1A/../../system", "*1A?x", "*G1"}) {
        EXPECT_EQ(error_of([&] { client->remove_arp(ref); }).code, "invalid_reference") << ref;
    }
    EXPECT_EQ(router.calls().remove, 0u);
}

TEST(router_client, wrong_credentials_are_unauthorized_and_change_nothing) {
    fake_routeros router;
    auto client = client_for(router, "api:wrong");

    const auto e = error_of([&] { client->add_arp(vm_entry()); });
    EXPECT_EQ(e.code, "unauthorized");
    EXPECT_NE(std::string(e.what()).find("HTTP 401"), std::string::npos) << e.what();
    EXPECT_EQ(error_of([&] { client->list_arp(); }).code, "unauthorized");
    EXPECT_EQ(router.calls().unauthorized, 2u);
    EXPECT_TRUE(router.arp_table().empty());
}

TEST(router_client, the_routers_reason_for_a_refusal_is_the_message) {
    fake_routeros router;
    auto client = client_for(router);

    auto e = error_of([&] {
        client->add_arp({"203.0.113.10", "52:54:00:ab:cd:ef", "ether9", ""});
    });
    EXPECT_EQ(e.code, "rejected");
    EXPECT_NE(std::string(e.what()).find("input does not match any value of interface"),
              std::string::npos)
        << e.what();

    e = error_of([&] { client->add_arp(vm_entry("203.0.113.300")); });
    EXPECT_EQ(e.code, "rejected");
    EXPECT_NE(std::string(e.what()).find("invalid value for argument address"), std::string::npos)
        << e.what();

    client->add_arp(vm_entry());
    e = error_of([&] { client->add_arp(vm_entry()); });
    EXPECT_EQ(e.code, "rejected");
    EXPECT_NE(std::string(e.what()).find("failure: already have such address"), std::string::npos)
        << e.what();

    EXPECT_EQ(router.arp_table().size(), 1u);
    EXPECT_EQ(router.calls().rejected, 3u);
}

TEST(router_client, configuration_of_the_wrong_form_is_refused_with_a_clear_error) {
    const auto make = [](std::string kind, std::string url, std::string token) {
        return error_of([&] { ipam::make_router_client({kind, url, token}); });
    };
    auto e = make("mikrotik", "https://192.0.2.1", "just-a-token");
    EXPECT_EQ(e.code, "invalid_config");
    EXPECT_NE(std::string(e.what()).find("user:password"), std::string::npos) << e.what();
    EXPECT_EQ(std::string(e.what()).find("just-a-token"), std::string::npos) << "token leaked";
    EXPECT_EQ(make("mikrotik", "https://192.0.2.1", ":password").code, "invalid_config");
    EXPECT_EQ(make("mikrotik", "192.0.2.1", "api:pw").code, "invalid_config");
    EXPECT_EQ(make("mikrotik", "ftp://192.0.2.1", "api:pw").code, "invalid_config");
    EXPECT_EQ(make("mikrotik", "https://api:pw@192.0.2.1", "api:pw").code, "invalid_config");
    EXPECT_EQ(make("mikrotik", "https://192.0.2.1/other/path", "api:pw").code, "invalid_config");
    EXPECT_EQ(make("cisco", "https://192.0.2.1", "api:pw").code, "invalid_config");
    EXPECT_NO_THROW(ipam::make_router_client({"mikrotik", "https://192.0.2.1/rest/", "api:"}));
}

TEST(router_client, a_base_url_ending_in_rest_reaches_the_same_api) {
    fake_routeros router;
    auto client = ipam::make_router_client({"mikrotik", router.url() + "/rest", router.token()});
    client->add_arp(vm_entry());
    EXPECT_EQ(router.arp_table().size(), 1u);
}

TEST(router_client, an_unreachable_router_fails_quickly) {
    auto client = ipam::make_router_client(
        {"mikrotik", "http://127.0.0.1:" + std::to_string(closed_port()), "api:pw"}, {{}, 5s});
    const auto start = std::chrono::steady_clock::now();
    const auto e = error_of([&] { client->list_arp(); });
    EXPECT_EQ(e.code, "unreachable") << e.what();
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

TEST(router_client, a_router_that_does_not_answer_times_out) {
    fake_routeros router;
    router.set_delay(5s);
    auto client = client_for(router, {}, 300ms);
    const auto start = std::chrono::steady_clock::now();
    const auto e = error_of([&] { client->add_arp(vm_entry()); });
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(e.code, "timeout") << e.what();
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 2s);
}

TEST(router_client, an_untrusted_certificate_is_refused_before_any_request) {
    tls_router tls;
    auto client = client_for(*tls.router);  // the system's trust store does not know our CA
    const auto e = error_of([&] { client->add_arp(vm_entry()); });
    EXPECT_EQ(e.code, "tls_failed") << e.what();
    const auto calls = tls.router->calls();
    EXPECT_EQ(calls.add + calls.unauthorized, 0u);
    EXPECT_TRUE(tls.router->arp_table().empty());
}

TEST(router_client, https_works_when_the_routers_ca_is_given) {
    tls_router tls;
    auto client = client_for(*tls.router, {}, 5s, tls.authority.certificate_pem);
    const std::string ref = client->add_arp(vm_entry());
    EXPECT_EQ(client->list_arp().size(), 1u);
    client->remove_arp(ref);
    EXPECT_TRUE(tls.router->arp_table().empty());

    // Trusting some other CA is not enough.
    const auto other = pki::create_ca("another CA", 1h);
    auto wrong = client_for(*tls.router, {}, 5s, other.certificate_pem);
    EXPECT_EQ(error_of([&] { wrong->list_arp(); }).code, "tls_failed");
}

TEST(router_client, ovh_routers_are_configurable_but_not_supported_yet) {
    auto client =
        ipam::make_router_client({"ovh_additional_ip", "https://eu.api.ovh.com/1.0", "key"});
    for (const auto& call : std::vector<std::function<void()>>{[&] { client->add_arp(vm_entry()); },
                                                               [&] { client->remove_arp("*1"); },
                                                               [&] { client->list_arp(); }}) {
        const auto e = error_of(call);
        EXPECT_EQ(e.code, "not_supported");
        EXPECT_STREQ(e.what(), "OVH additional-IP routers are not supported yet");
    }
}
