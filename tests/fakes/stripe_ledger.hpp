#pragma once
// The in-memory half of the fake Stripe (fake_stripe.hpp): customers, payment methods, payment
// intents, setup intents, charges and refunds with Stripe's ids, JSON shapes, state changes and
// error bodies, behind one call per API request. No sockets, keys or idempotency here; not
// thread-safe (the server calls it under its lock).
//
// Stripe's test payment methods work as in test mode: pm_card_visa and pm_card_mastercard
// succeed; pm_card_chargeDeclined (generic_decline) and pm_card_chargeDeclinedInsufficientFunds
// (insufficient_funds) are declined as card_error / card_declined. Each use of one of those
// names makes a new pm_... as Stripe does.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace vpsfleet::testing {

// Decoded form fields in the order sent, keys with Stripe's nesting ("metadata[order]").
using stripe_params = std::vector<std::pair<std::string, std::string>>;

struct stripe_answer {
    int status = 200;
    nlohmann::json body;
    // Whether Stripe would keep this answer under the request's idempotency key: it does once the
    // endpoint ran (success or a declined card), not for a request refused while being checked.
    bool executed = true;
};

// An event the request caused; data.object is `object` as it stood then.
struct stripe_emitted {
    std::string type;
    nlohmann::json object;
};

class stripe_ledger {
  public:
    explicit stripe_ledger(std::size_t max_page_size = 100);

    stripe_answer handle(const std::string& method, const std::string& path,
                         const stripe_params& params, std::vector<stripe_emitted>& events);

    // Any object by id (cus_, pm_, pi_, seti_, ch_, re_); null when unknown.
    nlohmann::json find(const std::string& id) const;
    std::size_t count(const std::string& object_kind) const;  // "customer", "payment_intent", ...
    std::string new_id(const std::string& prefix);

  private:
    stripe_answer create_customer(const stripe_params& p);
    stripe_answer create_payment_intent(const stripe_params& p, std::vector<stripe_emitted>& ev);
    // pm_name empty: the card already on the intent.
    stripe_answer confirm_payment_intent(nlohmann::json& pi, std::string pm_name,
                                         std::vector<stripe_emitted>& ev);
    stripe_answer create_setup_intent(const stripe_params& p);
    stripe_answer confirm_setup_intent(nlohmann::json& si, const stripe_params& p,
                                       std::vector<stripe_emitted>& ev);
    stripe_answer list_payment_methods(const stripe_params& p);
    stripe_answer detach_payment_method(nlohmann::json& pm);
    stripe_answer create_refund(const stripe_params& p, std::vector<stripe_emitted>& ev);

    // A pm_... ready to charge, or the error answer. Test names make a new payment method.
    struct card_choice {
        nlohmann::json* pm = nullptr;
        std::string decline_code;  // empty: the card pays
        stripe_answer error;
    };
    card_choice resolve_card(const std::string& name, const std::string& customer,
                             const char* param);
    std::string new_charge(const nlohmann::json& pi, const std::string& pm_id, bool paid,
                           const std::string& decline_code);

    std::size_t max_page_size_;
    std::mt19937_64 random_;
    std::map<std::string, nlohmann::json> objects_;  // by id
    std::vector<std::string> payment_method_order_;  // oldest first
    std::map<std::string, std::string> declines_;    // pm id -> decline_code
    std::set<std::string> detached_;                 // may not be used again
};

}  // namespace vpsfleet::testing
