// The Stripe payment provider against the fake Stripe over TLS on loopback, with the fake's
// webhooks posted to a real local HTTP listener and checked by the real verifier.
#include "coordinator/billing/stripe_client.hpp"
#include "common/http_server.hpp"
#include "coordinator/billing/stripe_webhook.hpp"
#include "coordinator/net/https_request.hpp"
#include "tests/fakes/fake_stripe.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <mutex>
#include <thread>

using namespace vpsfleet;
using namespace std::chrono_literals;
using billing::payment_error;
using billing::webhook_verdict;
using vpsfleet::testing::fake_stripe;
using vpsfleet::testing::fake_stripe_options;

namespace {

// A plain HTTP listener standing in for the coordinator's webhook route: keeps every POST.
class webhook_receiver {
  public:
    struct delivery {
        std::string signature;  // Stripe-Signature
        std::string content_type;
        std::string body;
    };

    webhook_receiver() {
        http::server_options options;
        options.name = "webhook receiver";
        server_ = std::make_shared<http::server>(
            io_, options, [this](http::request& req) { return receive(req); });
        port_ = server_->listen("127.0.0.1", 0).port();
        server_->start();
        thread_ = std::thread([this] { io_.run(); });
    }
    ~webhook_receiver() {
        server_->stop();
        io_.stop();
        thread_.join();
    }

    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/stripe"; }
    std::vector<delivery> received() const {
        std::lock_guard lock(mutex_);
        return received_;
    }

  private:
    boost::asio::awaitable<http::response> receive(http::request& req) {
        {
            std::lock_guard lock(mutex_);
            received_.push_back({std::string(req["Stripe-Signature"]),
                                 std::string(req[boost::beast::http::field::content_type]),
                                 req.body()});
        }
        co_return http::json_response(http::status::ok, R"({"received":true})");
    }

    boost::asio::io_context io_;
    std::shared_ptr<http::server> server_;
    std::uint16_t port_ = 0;
    std::thread thread_;
    mutable std::mutex mutex_;
    std::vector<delivery> received_;
};

// The payment_error `call` throws; fails the test if it throws nothing or something else.
payment_error error_of(const std::function<void()>& call) {
    try {
        call();
    } catch (const payment_error& e) {
        return e;
    }
    ADD_FAILURE() << "no payment_error thrown";
    return payment_error("none", "");
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

class stripe_client : public ::testing::Test {
  protected:
    explicit stripe_client(std::size_t max_page_size = 100)
        : stripe_(options(receiver_.url(), max_page_size)),
          provider_(provider_for(stripe_.secret_key())) {}

    static fake_stripe_options options(const std::string& webhook_url, std::size_t page_size) {
        fake_stripe_options o;
        o.webhook_url = webhook_url;
        o.max_page_size = page_size;
        return o;
    }

    std::unique_ptr<billing::payment_provider> provider_for(
        const std::string& key, std::chrono::milliseconds timeout = 5s) const {
        return billing::make_stripe_provider({stripe_.url(), key, stripe_.ca_pem(), timeout});
    }

    // What the customer's browser does with Stripe.js: confirm an intent with a card.
    int browser_confirms(const std::string& path, const std::string& card) const {
        net::request req;
        req.method = "POST";
        req.url = stripe_.url() + path;
        req.headers = {{"Authorization", "Bearer " + stripe_.secret_key()},
                       {"Content-Type", "application/x-www-form-urlencoded"}};
        req.body = "payment_method=" + card;
        req.ca_pem = stripe_.ca_pem();
        return net::perform(req).status;
    }

    // Every webhook delivered so far, verified now with the endpoint's secret.
    std::vector<billing::webhook_result> verified_webhooks() {
        EXPECT_TRUE(stripe_.wait_for_webhooks(5s));
        std::vector<billing::webhook_result> out;
        for (const auto& d : receiver_.received()) {
            EXPECT_EQ(d.content_type, "application/json; charset=utf-8");
            out.push_back(
                billing::verify_stripe_webhook(d.body, d.signature, stripe_.webhook_secret()));
        }
        return out;
    }

    std::string saved_card(const std::string& customer, const std::string& card,
                           const std::string& key) {
        const auto si = provider_->create_setup_intent(customer, key);
        EXPECT_EQ(browser_confirms("/v1/setup_intents/" + si.id + "/confirm", card), 200);
        const auto stored = stripe_.object(si.id);
        return stored["payment_method"].is_string() ? stored["payment_method"].get<std::string>()
                                                    : std::string();
    }

    webhook_receiver receiver_;  // outlives the fake, which posts to it
    fake_stripe stripe_;
    std::unique_ptr<billing::payment_provider> provider_;
};

class stripe_client_small_pages : public stripe_client {
  protected:
    stripe_client_small_pages() : stripe_client(2) {}
};

}  // namespace

TEST_F(stripe_client, creates_a_customer_with_a_form_encoded_idempotent_request) {
    const std::string id = provider_->create_customer("ada@example.com", "Ada Lovelace", "cus-1");
    EXPECT_TRUE(id.starts_with("cus_")) << id;
    const auto customer = stripe_.object(id);
    EXPECT_EQ(customer["email"], "ada@example.com");
    EXPECT_EQ(customer["name"], "Ada Lovelace");

    const auto requests = stripe_.requests();
    ASSERT_EQ(requests.size(), 1u);
    EXPECT_EQ(requests[0].method, "POST");
    EXPECT_EQ(requests[0].target, "/v1/customers");
    EXPECT_EQ(requests[0].content_type, "application/x-www-form-urlencoded");
    EXPECT_EQ(requests[0].body, "email=ada%40example.com&name=Ada+Lovelace");
    EXPECT_EQ(requests[0].stripe_version, "2024-06-20");
    EXPECT_EQ(requests[0].idempotency_key, "cus-1");
}

TEST_F(stripe_client, charges_a_saved_card_off_session_and_the_signed_webhook_verifies) {
    const std::string customer = provider_->create_customer("ada@example.com", "Ada", "cus-1");
    const std::string card = saved_card(customer, "pm_card_visa", "seti-1");
    ASSERT_TRUE(card.starts_with("pm_")) << card;

    billing::intent_request request;
    request.customer_id = customer;
    request.amount = 12'500;
    request.currency = "DKK";
    request.payment_method = card;
    request.confirm = true;
    request.off_session = true;
    request.description = "VPS renewal – März & co";
    request.metadata = {{"invoice", "inv_42"}, {"note", "a/b c=d&e"}};
    const auto pi = provider_->create_payment_intent(request, "invoice-42-charge-1");
    EXPECT_TRUE(pi.id.starts_with("pi_")) << pi.id;
    EXPECT_EQ(pi.status, "succeeded");
    EXPECT_EQ(pi.amount, 12'500);
    EXPECT_EQ(pi.currency, "DKK");
    EXPECT_EQ(pi.customer, customer);
    EXPECT_EQ(pi.payment_method, card);
    EXPECT_TRUE(pi.last_error_code.empty());

    // What reached Stripe: lower-case currency, nested metadata, text intact through the encoding.
    const auto stored = stripe_.object(pi.id);
    EXPECT_EQ(stored["currency"], "dkk");
    EXPECT_EQ(stored["description"], "VPS renewal – März & co");
    EXPECT_EQ(stored["metadata"], (nlohmann::json{{"invoice", "inv_42"}, {"note", "a/b c=d&e"}}));
    EXPECT_EQ(stored["payment_method_types"], nlohmann::json::array({"card"}));

    const auto hooks = verified_webhooks();
    ASSERT_EQ(hooks.size(), 2u);  // the saved card, then the payment
    EXPECT_EQ(hooks[0].verdict, webhook_verdict::ok);
    EXPECT_EQ(hooks[0].event.type, "setup_intent.succeeded");
    ASSERT_EQ(hooks[1].verdict, webhook_verdict::ok);
    EXPECT_EQ(hooks[1].event.type, "payment_intent.succeeded");
    EXPECT_TRUE(hooks[1].event.id.starts_with("evt_"));
    EXPECT_EQ(hooks[1].event.data_object["id"], pi.id);
    EXPECT_EQ(hooks[1].event.data_object["amount_received"], 12'500);
    EXPECT_EQ(hooks[1].event.data_object["metadata"]["invoice"], "inv_42");

    // The same bodies under another endpoint's secret are refused.
    for (const auto& d : receiver_.received()) {
        EXPECT_EQ(billing::verify_stripe_webhook(d.body, d.signature, "whsec_other").verdict,
                  webhook_verdict::bad_signature);
    }
}

TEST_F(stripe_client, a_declined_card_is_a_card_error_and_leaves_the_intent_unpaid) {
    const std::string customer = provider_->create_customer("bob@example.com", "Bob", "cus-b");
    billing::intent_request request{customer, 5'000, "DKK",     "pm_card_chargeDeclined",
                                    true,     true,  "renewal", {}};
    const auto e = error_of([&] { provider_->create_payment_intent(request, "inv-7-charge-1"); });
    EXPECT_EQ(e.code, "card_declined");
    EXPECT_EQ(e.type, "card_error");
    EXPECT_EQ(e.decline_code, "generic_decline");
    EXPECT_EQ(e.http_status, 402);
    EXPECT_FALSE(e.retryable());
    EXPECT_NE(std::string(e.what()).find("Your card was declined."), std::string::npos) << e.what();
    ASSERT_TRUE(e.payment_intent_id.starts_with("pi_")) << e.payment_intent_id;

    const auto pi = provider_->retrieve_payment_intent(e.payment_intent_id);
    EXPECT_EQ(pi.status, "requires_payment_method");
    EXPECT_EQ(pi.last_error_code, "card_declined");
    EXPECT_EQ(pi.last_error_message, "Your card was declined.");
    EXPECT_EQ(pi.payment_method, "");

    const auto hooks = verified_webhooks();
    ASSERT_EQ(hooks.size(), 1u);
    EXPECT_EQ(hooks[0].verdict, webhook_verdict::ok);
    EXPECT_EQ(hooks[0].event.type, "payment_intent.payment_failed");
    EXPECT_EQ(hooks[0].event.data_object["id"], e.payment_intent_id);

    // Retrying the same call with the same key replays the decline: the customer must act first.
    const auto again =
        error_of([&] { provider_->create_payment_intent(request, "inv-7-charge-1"); });
    EXPECT_EQ(again.code, "card_declined");
    EXPECT_EQ(again.payment_intent_id, e.payment_intent_id);
    EXPECT_EQ(stripe_.counts().payment_intents, 1u);
}

TEST_F(stripe_client, a_retry_with_the_same_idempotency_key_returns_the_same_intent) {
    const std::string customer = provider_->create_customer("c@example.com", "C", "cus-c");
    billing::intent_request request{customer, 9'900, "DKK", "pm_card_visa", true, false, "", {}};
    const auto first = provider_->create_payment_intent(request, "inv-9-charge-1");
    const auto second = provider_->create_payment_intent(request, "inv-9-charge-1");
    EXPECT_EQ(first.id, second.id);
    EXPECT_EQ(second.status, "succeeded");

    const auto counts = stripe_.counts();
    EXPECT_EQ(counts.payment_intents, 1u);
    EXPECT_EQ(counts.idempotent_replays, 1u);
    EXPECT_EQ(counts.events, 1u);  // charged once, one webhook

    // The same key for a different charge is refused, and it is not worth retrying.
    request.amount = 10'000;
    const auto e = error_of([&] { provider_->create_payment_intent(request, "inv-9-charge-1"); });
    EXPECT_EQ(e.code, "idempotency_error");
    EXPECT_EQ(e.http_status, 400);
    EXPECT_FALSE(e.retryable());
    EXPECT_EQ(stripe_.counts().payment_intents, 1u);
}

TEST_F(stripe_client, a_wrong_secret_key_is_unauthorized) {
    auto wrong = provider_for("sk_test_not_the_right_one");
    const auto e = error_of([&] { wrong->create_customer("x@example.com", "X", "k1"); });
    EXPECT_EQ(e.code, "unauthorized");
    EXPECT_EQ(e.http_status, 401);
    EXPECT_FALSE(e.retryable());
    EXPECT_NE(std::string(e.what()).find("Invalid API Key provided"), std::string::npos)
        << e.what();
    EXPECT_EQ(std::string(e.what()).find("sk_test_not_the_right_one"), std::string::npos)
        << "the key leaked into the message";
    EXPECT_EQ(stripe_.counts().customers, 0u);
    EXPECT_EQ(stripe_.counts().unauthorized, 1u);
}

TEST_F(stripe_client, a_card_saved_through_a_setup_intent_is_listed_and_can_be_detached) {
    const std::string customer = provider_->create_customer("d@example.com", "D", "cus-d");
    const auto si = provider_->create_setup_intent(customer, "seti-d");
    EXPECT_TRUE(si.id.starts_with("seti_")) << si.id;
    EXPECT_TRUE(si.client_secret.starts_with(si.id + "_secret_")) << si.client_secret;
    EXPECT_EQ(si.status, "requires_payment_method");
    EXPECT_TRUE(provider_->list_payment_methods(customer).empty());

    ASSERT_EQ(browser_confirms("/v1/setup_intents/" + si.id + "/confirm", "pm_card_mastercard"),
              200);
    const auto cards = provider_->list_payment_methods(customer);
    ASSERT_EQ(cards.size(), 1u);
    EXPECT_TRUE(cards[0].id.starts_with("pm_"));
    EXPECT_EQ(cards[0].brand, "mastercard");
    EXPECT_EQ(cards[0].last4, "4444");
    EXPECT_EQ(cards[0].exp_month, 12);
    EXPECT_GT(cards[0].exp_year, 2025);

    const auto hooks = verified_webhooks();
    ASSERT_EQ(hooks.size(), 1u);
    EXPECT_EQ(hooks[0].event.type, "setup_intent.succeeded");
    EXPECT_EQ(hooks[0].event.data_object["payment_method"], cards[0].id);
    EXPECT_EQ(hooks[0].event.data_object["customer"], customer);

    provider_->detach_payment_method(cards[0].id);
    EXPECT_TRUE(provider_->list_payment_methods(customer).empty());
    // A detached card cannot be detached again, nor charged.
    EXPECT_EQ(error_of([&] { provider_->detach_payment_method(cards[0].id); }).http_status, 400);
    billing::intent_request charge{customer, 100, "DKK", cards[0].id, true, true, "", {}};
    const auto e = error_of([&] { provider_->create_payment_intent(charge, "after-detach"); });
    EXPECT_EQ(e.param, "payment_method");
    EXPECT_FALSE(e.retryable());
}

TEST_F(stripe_client_small_pages, every_page_of_saved_cards_is_listed_newest_first) {
    const std::string customer = provider_->create_customer("e@example.com", "E", "cus-e");
    std::vector<std::string> saved;
    for (int i = 0; i < 5; ++i) {
        saved.push_back(saved_card(customer, "pm_card_visa", "seti-e-" + std::to_string(i)));
    }
    const auto cards = provider_->list_payment_methods(customer);
    ASSERT_EQ(cards.size(), 5u);
    for (std::size_t i = 0; i < cards.size(); ++i) EXPECT_EQ(cards[i].id, saved[4 - i]);

    std::size_t list_calls = 0;
    std::size_t continued = 0;
    for (const auto& r : stripe_.requests()) {
        if (!r.target.starts_with("/v1/payment_methods?")) continue;
        ++list_calls;
        EXPECT_NE(r.target.find("customer=" + customer), std::string::npos) << r.target;
        EXPECT_NE(r.target.find("type=card"), std::string::npos) << r.target;
        if (r.target.find("starting_after=pm_") != std::string::npos) ++continued;
    }
    EXPECT_EQ(list_calls, 3u);  // 2 + 2 + 1
    EXPECT_EQ(continued, 2u);
}

TEST_F(stripe_client, refunds_part_then_the_rest_and_no_more) {
    const std::string customer = provider_->create_customer("f@example.com", "F", "cus-f");
    billing::intent_request request{customer, 10'000, "DKK", "pm_card_visa", true, false, "", {}};
    const auto pi = provider_->create_payment_intent(request, "inv-f");

    const auto part = provider_->create_refund(pi.id, 4'000, "requested_by_customer", "re-f-1");
    EXPECT_TRUE(part.id.starts_with("re_")) << part.id;
    EXPECT_EQ(part.status, "succeeded");
    EXPECT_EQ(part.amount, 4'000);
    EXPECT_EQ(part.currency, "DKK");
    EXPECT_EQ(stripe_.object(part.id)["reason"], "requested_by_customer");

    const auto too_much = error_of([&] { provider_->create_refund(pi.id, 7'000, "", "re-f-2"); });
    EXPECT_EQ(too_much.code, "amount_too_large");
    EXPECT_EQ(too_much.param, "amount");

    const auto rest = provider_->create_refund(pi.id, 6'000, "", "re-f-3");
    EXPECT_EQ(rest.amount, 6'000);
    EXPECT_EQ(error_of([&] { provider_->create_refund(pi.id, 1, "", "re-f-4"); }).code,
              "charge_already_refunded");
    EXPECT_EQ(stripe_.counts().refunds, 2u);

    const auto hooks = verified_webhooks();
    ASSERT_EQ(hooks.size(), 3u);
    EXPECT_EQ(hooks[1].event.type, "charge.refunded");
    EXPECT_EQ(hooks[1].event.data_object["amount_refunded"], 4'000);
    EXPECT_EQ(hooks[1].event.data_object["refunded"], false);
    EXPECT_EQ(hooks[2].event.data_object["amount_refunded"], 10'000);
    EXPECT_EQ(hooks[2].event.data_object["refunded"], true);
    EXPECT_EQ(hooks[2].event.data_object["payment_intent"], pi.id);
}

TEST_F(stripe_client, an_intent_paid_in_the_browser_succeeds_by_webhook) {
    const std::string customer = provider_->create_customer("g@example.com", "G", "cus-g");
    billing::intent_request request{customer, 2'500, "EUR", std::nullopt, false, false, "", {}};
    const auto pi = provider_->create_payment_intent(request, "inv-g");
    EXPECT_EQ(pi.status, "requires_payment_method");
    EXPECT_EQ(pi.currency, "EUR");
    EXPECT_TRUE(pi.client_secret.starts_with(pi.id + "_secret_")) << pi.client_secret;
    EXPECT_TRUE(verified_webhooks().empty());

    ASSERT_EQ(browser_confirms("/v1/payment_intents/" + pi.id + "/confirm", "pm_card_visa"), 200);
    const auto hooks = verified_webhooks();
    ASSERT_EQ(hooks.size(), 1u);
    EXPECT_EQ(hooks[0].event.type, "payment_intent.succeeded");
    EXPECT_EQ(provider_->retrieve_payment_intent(pi.id).status, "succeeded");
}

TEST_F(stripe_client, a_resent_event_verifies_again_and_an_old_one_is_stale) {
    const std::string customer = provider_->create_customer("h@example.com", "H", "cus-h");
    billing::intent_request request{customer, 700, "DKK", "pm_card_visa", true, true, "", {}};
    provider_->create_payment_intent(request, "inv-h");
    ASSERT_TRUE(stripe_.wait_for_webhooks());
    stripe_.resend_last_event();
    stripe_.resend_last_event(std::chrono::system_clock::now() - 10min);

    const auto hooks = verified_webhooks();
    ASSERT_EQ(hooks.size(), 3u);
    // Both fresh deliveries verify: refusing the repeat by its event id is the caller's job.
    EXPECT_EQ(hooks[0].verdict, webhook_verdict::ok);
    EXPECT_EQ(hooks[1].verdict, webhook_verdict::ok);
    EXPECT_EQ(hooks[0].event.id, hooks[1].event.id);
    EXPECT_EQ(hooks[2].verdict, webhook_verdict::stale);
    const auto received = receiver_.received();
    EXPECT_EQ(received[0].body, received[2].body);
    EXPECT_NE(received[0].signature, received[2].signature);
}

TEST_F(stripe_client, stripe_failures_map_to_retryable_codes) {
    stripe_.fail_next_request(500, "api_error", "", "An unknown error occurred");
    auto e = error_of([&] { provider_->create_customer("i@example.com", "I", "cus-i"); });
    EXPECT_EQ(e.code, "provider_failed");
    EXPECT_EQ(e.type, "api_error");
    EXPECT_TRUE(e.retryable());
    EXPECT_NE(std::string(e.what()).find("request req_"), std::string::npos) << e.what();

    stripe_.fail_next_request(429, "invalid_request_error", "rate_limit", "Too many requests");
    e = error_of([&] { provider_->create_customer("i@example.com", "I", "cus-i"); });
    EXPECT_EQ(e.code, "rate_limited");
    EXPECT_TRUE(e.retryable());

    // The failures ran nothing, so the same key now creates the customer.
    EXPECT_TRUE(provider_->create_customer("i@example.com", "I", "cus-i").starts_with("cus_"));

    e = error_of([&] { provider_->retrieve_payment_intent("pi_doesnotexist"); });
    EXPECT_EQ(e.code, "not_found");
    EXPECT_EQ(e.type, "invalid_request_error");
    EXPECT_FALSE(e.retryable());
}

TEST_F(stripe_client, bad_arguments_are_refused_before_anything_is_sent) {
    billing::intent_request request{"cus_x", 100, "DKK", "pm_card_visa", true, true, "", {}};
    const auto code_of = [&](const std::function<void()>& call) { return error_of(call).code; };
    auto bad = request;
    bad.amount = 0;
    EXPECT_EQ(code_of([&] { provider_->create_payment_intent(bad, "k"); }), "invalid_request");
    bad = request;
    bad.currency = "DK";
    EXPECT_EQ(code_of([&] { provider_->create_payment_intent(bad, "k"); }), "invalid_request");
    bad = request;
    bad.payment_method.reset();
    EXPECT_EQ(code_of([&] { provider_->create_payment_intent(bad, "k"); }), "invalid_request");
    bad = request;
    bad.metadata = {{"a[b]", "c"}};
    EXPECT_EQ(code_of([&] { provider_->create_payment_intent(bad, "k"); }), "invalid_request");
    EXPECT_EQ(code_of([&] { provider_->create_payment_intent(request, ""); }), "invalid_request");
    EXPECT_EQ(code_of([&] { provider_->retrieve_payment_intent("pi_1/../../v1/customers"); }),
              "invalid_request");
    EXPECT_EQ(code_of([&] { provider_->create_refund("pi_1", -5, "", "k"); }), "invalid_request");
    EXPECT_EQ(code_of([&] { provider_->create_refund("pi_1", 5, "changed_mind", "k"); }),
              "invalid_request");
    EXPECT_EQ(code_of([&] { provider_->list_payment_methods("cus_1&type=x"); }), "invalid_request");
    EXPECT_TRUE(stripe_.requests().empty());

    EXPECT_EQ(code_of([] {
                  billing::make_stripe_provider({"ftp://x", "sk_test_1", "", 1s});
              }),
              "invalid_config");
    EXPECT_EQ(code_of([] {
                  billing::make_stripe_provider({"https://x/v1", "sk_test_1", "", 1s});
              }),
              "invalid_config");
    EXPECT_EQ(code_of([] {
                  billing::make_stripe_provider({"https://x", "", "", 1s});
              }),
              "invalid_config");
}

TEST_F(stripe_client, an_untrusted_certificate_is_refused_before_any_request) {
    auto untrusting = billing::make_stripe_provider({stripe_.url(), stripe_.secret_key(), "", 5s});
    const auto e = error_of([&] { untrusting->create_customer("j@example.com", "J", "cus-j"); });
    EXPECT_EQ(e.code, "tls_failed") << e.what();
    EXPECT_FALSE(e.retryable());
    EXPECT_TRUE(stripe_.requests().empty());
}

TEST(stripe_client_transport, an_unreachable_stripe_fails_quickly_and_may_be_retried) {
    auto provider = billing::make_stripe_provider(
        {"https://127.0.0.1:" + std::to_string(closed_port()), "sk_test_1", "", 5s});
    const auto start = std::chrono::steady_clock::now();
    const auto e = error_of([&] { provider->create_customer("k@example.com", "K", "cus-k"); });
    EXPECT_EQ(e.code, "unreachable") << e.what();
    EXPECT_EQ(e.http_status, 0);
    EXPECT_TRUE(e.retryable());
    EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
}

TEST(stripe_client_transport, a_server_that_never_answers_times_out_within_the_limit) {
    // Accepts connections (the kernel completes them) but never reads or writes a byte.
    boost::asio::io_context io;
    boost::asio::ip::tcp::acceptor silent(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    auto provider = billing::make_stripe_provider(
        {"https://127.0.0.1:" + std::to_string(silent.local_endpoint().port()), "sk_test_1", "",
         300ms});
    const auto start = std::chrono::steady_clock::now();
    const auto e = error_of([&] { provider->create_customer("l@example.com", "L", "cus-l"); });
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(e.code, "timeout") << e.what();
    EXPECT_TRUE(e.retryable());
    EXPECT_GE(took, 250ms);
    EXPECT_LT(took, 2s);
}

TEST(stripe_client_transport, a_slow_stripe_times_out_and_the_retry_with_the_key_is_safe) {
    fake_stripe stripe;
    auto provider =
        billing::make_stripe_provider({stripe.url(), stripe.secret_key(), stripe.ca_pem(), 300ms});
    stripe.set_delay(700ms);
    const auto e = error_of([&] { provider->create_customer("m@example.com", "M", "cus-m"); });
    EXPECT_EQ(e.code, "timeout") << e.what();
    stripe.set_delay(0ms);
    // The first request still ran once its delay passed; the retry replays it.
    const auto first_done = std::chrono::steady_clock::now() + 3s;
    while (stripe.counts().customers == 0 && std::chrono::steady_clock::now() < first_done) {
        std::this_thread::sleep_for(20ms);
    }
    ASSERT_EQ(stripe.counts().customers, 1u);
    const std::string id = provider->create_customer("m@example.com", "M", "cus-m");
    EXPECT_TRUE(id.starts_with("cus_"));
    EXPECT_EQ(stripe.counts().customers, 1u);
    EXPECT_EQ(stripe.counts().idempotent_replays, 1u);
}
