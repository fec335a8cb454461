#pragma once
// The payment provider behind billing: customers, saved cards, payments and refunds, as blocking
// calls for job and worker threads (never an I/O thread). Stripe is the implementation
// (stripe_client.hpp); tests run it against tests/fakes/fake_stripe.hpp. Implementations are
// safe to call from several threads at once.
//
// Money is an integer amount in the currency's minor unit (øre for DKK, cents for EUR) and an
// ISO 4217 code in upper case ("DKK"), as the rest of vpsfleet writes it; an implementation
// converts at its own boundary (Stripe wants "dkk"). Never floating point.
//
// Every call that creates something takes an idempotency key (1 to 255 printable ASCII
// characters): the same call with the same key and the same arguments returns the first result
// instead of acting twice, for about a day (Stripe keeps keys at least 24 hours). Derive the key
// from what the call is for ("invoice-42-charge-1") and store it before calling, so a job that
// retries after a timeout or a crash reuses it. Calls never retry on their own;
// payment_error::retryable() says whether trying again later, with the same key, may succeed.
//
// Asynchronous outcomes (a payment the customer finished in the browser, a card saved through a
// setup intent, a refund settled) arrive as webhooks: see stripe_webhook.hpp.
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace vpsfleet::billing {

struct intent_request {
    std::string customer_id;
    std::int64_t amount = 0;  // minor units, > 0
    std::string currency;     // ISO 4217, "DKK"
    // A card saved on the customer (pm_...). Without one the customer pays in the browser with
    // the intent's client_secret.
    std::optional<std::string> payment_method;
    bool confirm = false;      // charge now; needs payment_method
    bool off_session = false;  // the customer is not present (renewals); needs confirm
    std::string description;   // optional; shown in the provider's dashboard
    std::map<std::string, std::string> metadata;  // up to 50 keys of 40 chars, values of 500
};

struct payment_intent {
    std::string id;  // pi_...
    // requires_payment_method | requires_confirmation | requires_action | processing |
    // requires_capture | canceled | succeeded. Only succeeded means the money was taken.
    std::string status;
    std::int64_t amount = 0;
    std::string currency;       // upper case
    std::string client_secret;  // for the customer's browser only; never log or store it
    std::string customer;
    std::string payment_method;      // empty until one is attached; cleared by a failed attempt
    std::string last_error_code;     // of the last failed attempt, e.g. card_declined
    std::string last_error_message;  // the provider's text, fit to show the customer
};

// For saving a card without charging it: the browser confirms it with client_secret, and the
// card then shows in list_payment_methods.
struct setup_intent {
    std::string id;  // seti_...
    std::string client_secret;
    std::string status;  // requires_payment_method ... succeeded
};

struct payment_method_info {
    std::string id;     // pm_...
    std::string brand;  // visa, mastercard, amex, ...
    std::string last4;
    int exp_month = 0;
    int exp_year = 0;
};

struct refund {
    std::string id;      // re_...
    std::string status;  // pending | requires_action | succeeded | failed | canceled
    std::int64_t amount = 0;
    std::string currency;  // upper case
};

// `code` is the provider's error code when it gave one (Stripe's error.code: card_declined,
// expired_card, amount_too_small, resource_missing, ...), else its error type
// (invalid_request_error, idempotency_error, ...), else one of ours:
//   invalid_config    make_stripe_provider's options are unusable
//   invalid_request   refused before sending (bad id, amount, currency or idempotency key)
//   unreachable       name not resolved or connection refused
//   timeout           no whole answer within the configured timeout
//   tls_failed        handshake or certificate verification failed
//   transport_failed  the connection broke mid-request (the provider may have acted on it)
//   unauthorized      HTTP 401 or 403: the secret key is wrong, revoked or lacks permission
//   not_found         HTTP 404: no such customer, intent, card...
//   rate_limited      HTTP 429
//   provider_failed   HTTP 5xx, or an error answer without any code or type
//   bad_response      an answer that is not the provider's JSON
struct payment_error : std::runtime_error {
    payment_error(std::string code, const std::string& message)
        : std::runtime_error(message), code(std::move(code)) {}

    std::string code;
    std::string type;          // Stripe's error.type: card_error, invalid_request_error, ...
    std::string decline_code;  // card_error only: the issuer's reason, e.g. insufficient_funds
    std::string param;         // the request parameter at fault, when the provider names one
    int http_status = 0;       // 0: no HTTP answer
    // The intent a failed confirmation left behind (in requires_payment_method), when any.
    std::string payment_intent_id;
    // The provider's own advice (Stripe-Should-Retry), when the answer carried it.
    std::optional<bool> provider_says_retry;

    // Whether the same call, with the same idempotency key, may succeed later. A declined card
    // is not retryable: the customer must act first.
    bool retryable() const {
        if (provider_says_retry) return *provider_says_retry;
        if (code == "unreachable" || code == "timeout" || code == "transport_failed" ||
            code == "rate_limited" || code == "provider_failed" || code == "lock_timeout") {
            return true;
        }
        // A request that collided with another using the same key.
        return http_status == 409 && type != "idempotency_error";
    }
};

class payment_provider {
  public:
    virtual ~payment_provider() = default;

    // Returns the customer's id (cus_...).
    virtual std::string create_customer(const std::string& email, const std::string& name,
                                        const std::string& idempotency_key) = 0;

    // With confirm and a card the charge happens now: the intent comes back succeeded (or
    // processing, or requires_action when the bank wants the customer). A declined card throws
    // payment_error{type card_error, code card_declined (or expired_card, ...), decline_code,
    // payment_intent_id}; the intent stays in requires_payment_method with last_error_* set.
    virtual payment_intent create_payment_intent(const intent_request& request,
                                                 const std::string& idempotency_key) = 0;
    virtual payment_intent retrieve_payment_intent(const std::string& id) = 0;

    virtual setup_intent create_setup_intent(const std::string& customer_id,
                                             const std::string& idempotency_key) = 0;
    // The customer's saved cards, newest first, every page of them.
    virtual std::vector<payment_method_info> list_payment_methods(
        const std::string& customer_id) = 0;
    // Removes a saved card from its customer; a card not attached to any customer throws.
    virtual void detach_payment_method(const std::string& payment_method_id) = 0;

    // Refunds `amount` (> 0, at most what is left unrefunded) of a succeeded payment. `reason`
    // is empty or one of duplicate, fraudulent, requested_by_customer.
    virtual refund create_refund(const std::string& payment_intent_id, std::int64_t amount,
                                 const std::string& reason, const std::string& idempotency_key) = 0;
};

}  // namespace vpsfleet::billing
