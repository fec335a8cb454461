#include "tests/fakes/stripe_ledger.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <initializer_list>
#include <optional>
#include <string_view>

namespace vpsfleet::testing {
namespace {

using json = nlohmann::json;

std::int64_t now_s() { return static_cast<std::int64_t>(std::time(nullptr)); }

json error_body(const std::string& type, const std::string& code, const std::string& message,
                const std::string& param = {}) {
    json error = {{"type", type}, {"message", message}};
    if (!code.empty()) {
        error["code"] = code;
        error["doc_url"] = "https://stripe.com/docs/error-codes/" + code;
    }
    if (!param.empty()) error["param"] = param;
    return {{"error", error}};
}

// Refused while checking the request: nothing ran, so nothing is kept under its idempotency key.
stripe_answer refuse(const std::string& message, const std::string& code = {},
                     const std::string& param = {}, int status = 400) {
    return {status, error_body("invalid_request_error", code, message, param), false};
}

stripe_answer no_such(const std::string& kind, const std::string& id, const std::string& param,
                      int status) {
    return refuse("No such " + kind + ": '" + id + "'", "resource_missing", param, status);
}

std::optional<std::string> get(const stripe_params& p, std::string_view key) {
    std::optional<std::string> out;
    for (const auto& [k, v] : p) {
        if (k == key) out = v;
    }
    return out;
}

// Stripe refuses a parameter an endpoint does not know, naming it.
std::optional<stripe_answer> unknown_param(const stripe_params& p,
                                           std::initializer_list<std::string_view> known,
                                           bool metadata = false, bool method_types = false) {
    for (const auto& [key, value] : p) {
        if (std::find(known.begin(), known.end(), key) != known.end()) continue;
        if (key.starts_with("expand[")) continue;
        if (metadata && key.starts_with("metadata[") && key.ends_with("]") && key.size() > 10) {
            continue;
        }
        if (method_types && key.starts_with("payment_method_types[")) {
            if (value != "card") {
                return refuse("The fake Stripe knows only the card payment method type, not \"" +
                                  value + "\".",
                              "", "payment_method_types");
            }
            continue;
        }
        return refuse("Received unknown parameter: " + key, "parameter_unknown", key);
    }
    return std::nullopt;
}

json metadata_of(const stripe_params& p) {
    json out = json::object();
    for (const auto& [key, value] : p) {
        if (key.starts_with("metadata[") && key.ends_with("]")) {
            out[key.substr(9, key.size() - 10)] = value;
        }
    }
    return out;
}

std::optional<std::int64_t> parse_int(const std::string& text) {
    std::int64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
    return value;
}

// Stripe's booleans on the wire: "true" or "false".
std::optional<stripe_answer> read_bool(const stripe_params& p, const char* key, bool& out) {
    const auto text = get(p, key);
    if (!text) return std::nullopt;
    if (*text != "true" && *text != "false") {
        return refuse("Invalid boolean: " + *text, "", key);
    }
    out = *text == "true";
    return std::nullopt;
}

json nullable(const std::string& s) { return s.empty() ? json(nullptr) : json(s); }

// A string field, "" when null or absent.
std::string str(const json& object, const char* key) {
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

struct test_card {
    std::string_view name;
    std::string_view brand;
    std::string_view last4;
    std::string_view decline_code;
};

constexpr test_card k_test_cards[] = {
    {"pm_card_visa", "visa", "4242", ""},
    {"pm_card_mastercard", "mastercard", "4444", ""},
    {"pm_card_chargeDeclined", "visa", "0002", "generic_decline"},
    {"pm_card_chargeDeclinedInsufficientFunds", "visa", "9995", "insufficient_funds"},
};

std::string decline_message(const std::string& decline_code) {
    if (decline_code == "insufficient_funds") return "Your card has insufficient funds.";
    return "Your card was declined.";
}

json card_error(const std::string& decline_code) {
    json body = error_body("card_error", "card_declined", decline_message(decline_code));
    body["error"]["decline_code"] = decline_code;
    return body;
}

}  // namespace

stripe_ledger::stripe_ledger(std::size_t max_page_size)
    : max_page_size_(max_page_size), random_(std::random_device{}()) {}

std::string stripe_ledger::new_id(const std::string& prefix) {
    static constexpr char alphabet[] =
        "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    std::string id = prefix + "_";
    for (int i = 0; i < 24; ++i) id += alphabet[random_() % (sizeof alphabet - 1)];
    return id;
}

json stripe_ledger::find(const std::string& id) const {
    const auto it = objects_.find(id);
    return it == objects_.end() ? json() : it->second;
}

std::size_t stripe_ledger::count(const std::string& object_kind) const {
    return static_cast<std::size_t>(std::count_if(
        objects_.begin(), objects_.end(),
        [&](const auto& entry) { return str(entry.second, "object") == object_kind; }));
}

stripe_answer stripe_ledger::handle(const std::string& method, const std::string& path,
                                    const stripe_params& p, std::vector<stripe_emitted>& ev) {
    std::vector<std::string> parts;
    if (path.starts_with("/v1/")) {
        std::string_view rest = std::string_view(path).substr(4);
        while (!rest.empty()) {
            const auto slash = rest.find('/');
            parts.emplace_back(rest.substr(0, slash));
            rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
        }
    }
    const bool post = method == "POST";
    const bool get_ = method == "GET";
    const std::size_t n = parts.size();
    const std::string resource = n > 0 ? parts[0] : "";
    // The object a path names, with the kind Stripe says it is missing as.
    const auto named = [&](const char* kind) -> std::pair<json*, stripe_answer> {
        const auto it = objects_.find(parts[1]);
        if (it == objects_.end() || it->second["object"] != kind) {
            return {nullptr, no_such(kind, parts[1], "id", 404)};
        }
        return {&it->second, {}};
    };

    if (resource == "customers" && n == 1 && post) return create_customer(p);
    if (resource == "payment_intents" && n == 1 && post) return create_payment_intent(p, ev);
    if (resource == "setup_intents" && n == 1 && post) return create_setup_intent(p);
    if (resource == "payment_methods" && n == 1 && get_) return list_payment_methods(p);
    if (resource == "refunds" && n == 1 && post) return create_refund(p, ev);

    static const std::map<std::string, std::string> kinds = {{"customers", "customer"},
                                                             {"payment_intents", "payment_intent"},
                                                             {"setup_intents", "setup_intent"},
                                                             {"payment_methods", "payment_method"},
                                                             {"refunds", "refund"},
                                                             {"charges", "charge"}};
    const auto kind = kinds.find(resource);
    if (kind != kinds.end() && (n == 2 || n == 3)) {
        auto [object, missing] = named(kind->second.c_str());
        if (n == 2 && get_) return object ? stripe_answer{200, *object} : missing;
        if (n == 3 && post && object) {
            if (resource == "payment_intents" && parts[2] == "confirm") {
                if (auto bad = unknown_param(p, {"payment_method", "off_session", "return_url"})) {
                    return *bad;
                }
                bool off_session = false;
                if (auto bad = read_bool(p, "off_session", off_session)) return *bad;
                return confirm_payment_intent(*object, get(p, "payment_method").value_or(""), ev);
            }
            if (resource == "setup_intents" && parts[2] == "confirm") {
                return confirm_setup_intent(*object, p, ev);
            }
            if (resource == "payment_methods" && parts[2] == "detach") {
                return detach_payment_method(*object);
            }
        }
        if (n == 3 && post && !object) return missing;
    }
    return refuse("Unrecognized request URL (" + method + ": " + path +
                      "). Please see https://stripe.com/docs or we can help at "
                      "https://support.stripe.com/.",
                  "", "", 404);
}

stripe_answer stripe_ledger::create_customer(const stripe_params& p) {
    if (auto bad = unknown_param(p, {"email", "name", "description", "phone"}, true)) return *bad;
    const std::string id = new_id("cus");
    objects_[id] = {{"id", id},
                    {"object", "customer"},
                    {"created", now_s()},
                    {"email", nullable(get(p, "email").value_or(""))},
                    {"name", nullable(get(p, "name").value_or(""))},
                    {"description", nullable(get(p, "description").value_or(""))},
                    {"invoice_settings", {{"default_payment_method", nullptr}}},
                    {"livemode", false},
                    {"metadata", metadata_of(p)}};
    return {200, objects_[id]};
}

stripe_ledger::card_choice stripe_ledger::resolve_card(const std::string& name,
                                                       const std::string& customer,
                                                       const char* param) {
    card_choice out;
    for (const auto& card : k_test_cards) {
        if (name != card.name) continue;
        const std::string id = new_id("pm");
        objects_[id] = {
            {"id", id},
            {"object", "payment_method"},
            {"type", "card"},
            {"created", now_s()},
            {"customer", nullptr},
            {"livemode", false},
            {"metadata", json::object()},
            {"billing_details", {{"address", nullptr}, {"email", nullptr}, {"name", nullptr}}},
            {"card",
             {{"brand", card.brand},
              {"last4", card.last4},
              {"exp_month", 12},
              {"exp_year", 2034},
              {"country", "US"},
              {"funding", "credit"}}}};
        payment_method_order_.push_back(id);
        if (!card.decline_code.empty()) declines_[id] = card.decline_code;
        out.pm = &objects_[id];
        out.decline_code = std::string(card.decline_code);
        return out;
    }
    const auto it = objects_.find(name);
    if (it == objects_.end() || it->second["object"] != "payment_method") {
        out.error = no_such("PaymentMethod", name, param, 400);
        return out;
    }
    if (detached_.contains(name)) {
        out.error = refuse(
            "This PaymentMethod was previously used without being attached to a Customer or was "
            "detached from a Customer, and may not be used again.",
            "", param);
        return out;
    }
    const json& owner = it->second["customer"];
    if (owner.is_string() && owner != customer) {
        out.error =
            refuse("The PaymentMethod " + name + " belongs to another Customer.", "", param);
        return out;
    }
    out.pm = &it->second;
    if (const auto d = declines_.find(name); d != declines_.end()) out.decline_code = d->second;
    return out;
}

std::string stripe_ledger::new_charge(const json& pi, const std::string& pm_id, bool paid,
                                      const std::string& decline_code) {
    const std::string id = new_id("ch");
    objects_[id] = {{"id", id},
                    {"object", "charge"},
                    {"amount", pi["amount"]},
                    {"amount_captured", paid ? pi["amount"] : json(0)},
                    {"amount_refunded", 0},
                    {"captured", paid},
                    {"created", now_s()},
                    {"currency", pi["currency"]},
                    {"customer", pi["customer"]},
                    {"failure_code", paid ? json(nullptr) : json("card_declined")},
                    {"failure_message", paid ? json(nullptr) : json(decline_message(decline_code))},
                    {"livemode", false},
                    {"metadata", pi["metadata"]},
                    {"paid", paid},
                    {"payment_intent", pi["id"]},
                    {"payment_method", pm_id},
                    {"refunded", false},
                    {"status", paid ? "succeeded" : "failed"}};
    return id;
}

stripe_answer stripe_ledger::create_payment_intent(const stripe_params& p,
                                                   std::vector<stripe_emitted>& ev) {
    if (auto bad = unknown_param(p,
                                 {"amount", "currency", "customer", "payment_method", "confirm",
                                  "off_session", "description", "setup_future_usage"},
                                 true, true)) {
        return *bad;
    }
    const auto amount_text = get(p, "amount");
    if (!amount_text)
        return refuse("Missing required param: amount.", "parameter_missing", "amount");
    const auto amount = parse_int(*amount_text);
    if (!amount) {
        return refuse("Invalid integer: " + *amount_text, "parameter_invalid_integer", "amount");
    }
    if (*amount < 1) {
        return refuse("This value must be greater than or equal to 1.", "amount_too_small",
                      "amount");
    }
    const std::string currency = get(p, "currency").value_or("");
    if (currency.empty()) {
        return refuse("Missing required param: currency.", "parameter_missing", "currency");
    }
    if (currency.size() != 3 || !std::all_of(currency.begin(), currency.end(),
                                             [](char c) { return c >= 'a' && c <= 'z'; })) {
        return refuse("Invalid currency: " + currency + ".", "", "currency");
    }
    bool confirm = false;
    bool off_session = false;
    if (auto bad = read_bool(p, "confirm", confirm)) return *bad;
    if (auto bad = read_bool(p, "off_session", off_session)) return *bad;
    if (off_session && !confirm) {
        return refuse("off_session may only be used when confirm=true.", "", "off_session");
    }
    const std::string customer = get(p, "customer").value_or("");
    if (!customer.empty() &&
        (!objects_.contains(customer) || objects_[customer]["object"] != "customer")) {
        return no_such("customer", customer, "customer", 400);
    }
    const auto pm_name = get(p, "payment_method");
    if (confirm && !pm_name) {
        return refuse(
            "You cannot confirm this PaymentIntent because it's missing a payment method.",
            "payment_intent_unexpected_state", "payment_method");
    }
    const std::string id = new_id("pi");
    json pi = {{"id", id},
               {"object", "payment_intent"},
               {"amount", *amount},
               {"amount_capturable", 0},
               {"amount_received", 0},
               {"capture_method", "automatic"},
               {"client_secret", id + "_secret_" + new_id("x").substr(2)},
               {"confirmation_method", "automatic"},
               {"created", now_s()},
               {"currency", currency},
               {"customer", nullable(customer)},
               {"description", nullable(get(p, "description").value_or(""))},
               {"last_payment_error", nullptr},
               {"latest_charge", nullptr},
               {"livemode", false},
               {"metadata", metadata_of(p)},
               {"payment_method", nullptr},
               {"payment_method_types", {"card"}},
               {"setup_future_usage", nullable(get(p, "setup_future_usage").value_or(""))},
               {"status", "requires_payment_method"}};
    if (pm_name && !confirm) {
        card_choice card = resolve_card(*pm_name, customer, "payment_method");
        if (!card.pm) return card.error;
        pi["payment_method"] = (*card.pm)["id"];
        pi["status"] = "requires_confirmation";
    }
    json& stored = objects_[id] = pi;
    if (!confirm) return {200, stored};
    return confirm_payment_intent(stored, *pm_name, ev);
}

stripe_answer stripe_ledger::confirm_payment_intent(json& pi, std::string pm_name,
                                                    std::vector<stripe_emitted>& ev) {
    if (pi["status"] != "requires_payment_method" && pi["status"] != "requires_confirmation") {
        return refuse("You cannot confirm this PaymentIntent because it has a status of " +
                          str(pi, "status") + ".",
                      "payment_intent_unexpected_state");
    }
    if (pm_name.empty()) pm_name = str(pi, "payment_method");
    if (pm_name.empty()) {
        return refuse(
            "You cannot confirm this PaymentIntent because it's missing a payment method.",
            "payment_intent_unexpected_state", "payment_method");
    }
    const std::string customer = str(pi, "customer");
    card_choice card = resolve_card(pm_name, customer, "payment_method");
    if (!card.pm) return card.error;
    const std::string pm_id = str(*card.pm, "id");

    if (!card.decline_code.empty()) {
        pi["latest_charge"] = new_charge(pi, pm_id, false, card.decline_code);
        json last_error = card_error(card.decline_code)["error"];
        last_error["payment_method"] = *card.pm;
        last_error["charge"] = pi["latest_charge"];
        pi["last_payment_error"] = last_error;
        pi["payment_method"] = nullptr;
        pi["status"] = "requires_payment_method";
        ev.push_back({"payment_intent.payment_failed", pi});
        json body = card_error(card.decline_code);
        body["error"]["charge"] = pi["latest_charge"];
        body["error"]["payment_intent"] = pi;
        body["error"]["payment_method"] = *card.pm;
        return {402, body, true};
    }
    pi["payment_method"] = pm_id;
    pi["latest_charge"] = new_charge(pi, pm_id, true, "");
    pi["amount_received"] = pi["amount"];
    pi["last_payment_error"] = nullptr;
    pi["status"] = "succeeded";
    ev.push_back({"payment_intent.succeeded", pi});
    return {200, pi};
}

stripe_answer stripe_ledger::create_setup_intent(const stripe_params& p) {
    if (auto bad = unknown_param(p, {"customer", "usage", "description"}, true, true)) return *bad;
    const std::string customer = get(p, "customer").value_or("");
    if (!customer.empty() &&
        (!objects_.contains(customer) || objects_[customer]["object"] != "customer")) {
        return no_such("customer", customer, "customer", 400);
    }
    const std::string usage = get(p, "usage").value_or("off_session");
    if (usage != "off_session" && usage != "on_session") {
        return refuse("Invalid usage: must be one of off_session or on_session", "", "usage");
    }
    const std::string id = new_id("seti");
    objects_[id] = {{"id", id},
                    {"object", "setup_intent"},
                    {"client_secret", id + "_secret_" + new_id("x").substr(2)},
                    {"created", now_s()},
                    {"customer", nullable(customer)},
                    {"description", nullable(get(p, "description").value_or(""))},
                    {"last_setup_error", nullptr},
                    {"livemode", false},
                    {"metadata", metadata_of(p)},
                    {"payment_method", nullptr},
                    {"payment_method_types", {"card"}},
                    {"status", "requires_payment_method"},
                    {"usage", usage}};
    return {200, objects_[id]};
}

stripe_answer stripe_ledger::confirm_setup_intent(json& si, const stripe_params& p,
                                                  std::vector<stripe_emitted>& ev) {
    if (auto bad = unknown_param(p, {"payment_method", "return_url"})) return *bad;
    if (si["status"] != "requires_payment_method" && si["status"] != "requires_confirmation") {
        return refuse("You cannot confirm this SetupIntent because it has a status of " +
                          str(si, "status") + ".",
                      "setup_intent_unexpected_state");
    }
    const auto pm_name = get(p, "payment_method");
    if (!pm_name) {
        return refuse("You cannot confirm this SetupIntent because it's missing a payment method.",
                      "setup_intent_unexpected_state", "payment_method");
    }
    const std::string customer = str(si, "customer");
    card_choice card = resolve_card(*pm_name, customer, "payment_method");
    if (!card.pm) return card.error;
    if (!card.decline_code.empty()) {
        json last_error = card_error(card.decline_code)["error"];
        last_error["payment_method"] = *card.pm;
        si["last_setup_error"] = last_error;
        si["status"] = "requires_payment_method";
        ev.push_back({"setup_intent.setup_failed", si});
        json body = card_error(card.decline_code);
        body["error"]["setup_intent"] = si;
        body["error"]["payment_method"] = *card.pm;
        return {402, body, true};
    }
    if (!customer.empty()) (*card.pm)["customer"] = customer;
    si["payment_method"] = (*card.pm)["id"];
    si["last_setup_error"] = nullptr;
    si["status"] = "succeeded";
    ev.push_back({"setup_intent.succeeded", si});
    return {200, si};
}

stripe_answer stripe_ledger::list_payment_methods(const stripe_params& p) {
    if (auto bad =
            unknown_param(p, {"customer", "type", "limit", "starting_after", "ending_before"})) {
        return *bad;
    }
    const std::string customer = get(p, "customer").value_or("");
    if (!customer.empty() &&
        (!objects_.contains(customer) || objects_[customer]["object"] != "customer")) {
        return no_such("customer", customer, "customer", 400);
    }
    const std::string type = get(p, "type").value_or("card");
    if (type != "card") return refuse("The fake Stripe knows only type=card.", "", "type");
    std::int64_t limit = 10;
    if (const auto text = get(p, "limit")) {
        const auto parsed = parse_int(*text);
        if (!parsed || *parsed < 1 || *parsed > 100) {
            return refuse("Invalid limit: must be between 1 and 100", "", "limit");
        }
        limit = *parsed;
    }
    limit = std::min<std::int64_t>(limit, static_cast<std::int64_t>(max_page_size_));

    std::vector<const json*> matching;  // newest first, as Stripe lists
    for (auto it = payment_method_order_.rbegin(); it != payment_method_order_.rend(); ++it) {
        const json& pm = objects_[*it];
        if (!customer.empty() && pm["customer"] != customer) continue;
        matching.push_back(&pm);
    }
    std::size_t start = 0;
    if (const auto after = get(p, "starting_after")) {
        const auto at = std::find_if(matching.begin(), matching.end(),
                                     [&](const json* pm) { return (*pm)["id"] == *after; });
        if (at == matching.end()) return no_such("payment_method", *after, "starting_after", 400);
        start = static_cast<std::size_t>(at - matching.begin()) + 1;
    }
    json data = json::array();
    std::size_t i = start;
    for (; i < matching.size() && data.size() < static_cast<std::size_t>(limit); ++i) {
        data.push_back(*matching[i]);
    }
    return {200,
            {{"object", "list"},
             {"url", "/v1/payment_methods"},
             {"has_more", i < matching.size()},
             {"data", data}}};
}

stripe_answer stripe_ledger::detach_payment_method(json& pm) {
    if (!pm["customer"].is_string()) {
        return refuse(
            "The payment method you provided is not attached to a customer so detachment is "
            "impossible.");
    }
    pm["customer"] = nullptr;
    detached_.insert(pm["id"].get<std::string>());
    return {200, pm};
}

stripe_answer stripe_ledger::create_refund(const stripe_params& p,
                                           std::vector<stripe_emitted>& ev) {
    if (auto bad = unknown_param(p, {"payment_intent", "amount", "reason"}, true)) return *bad;
    const std::string pi_id = get(p, "payment_intent").value_or("");
    if (pi_id.empty()) {
        return refuse("Missing required param: payment_intent.", "parameter_missing",
                      "payment_intent");
    }
    const auto it = objects_.find(pi_id);
    if (it == objects_.end() || it->second["object"] != "payment_intent") {
        return no_such("payment_intent", pi_id, "payment_intent", 400);
    }
    const json& pi = it->second;
    if (pi["status"] != "succeeded" || !pi["latest_charge"].is_string()) {
        return refuse("This PaymentIntent does not have a successful charge to refund.", "",
                      "payment_intent");
    }
    json& charge = objects_[pi["latest_charge"].get<std::string>()];
    const std::int64_t left =
        charge["amount"].get<std::int64_t>() - charge["amount_refunded"].get<std::int64_t>();
    if (left <= 0) {
        return refuse("Charge " + charge["id"].get<std::string>() + " has already been refunded.",
                      "charge_already_refunded");
    }
    std::int64_t amount = left;
    if (const auto text = get(p, "amount")) {
        const auto parsed = parse_int(*text);
        if (!parsed) {
            return refuse("Invalid integer: " + *text, "parameter_invalid_integer", "amount");
        }
        if (*parsed < 1) {
            return refuse("This value must be greater than or equal to 1.", "", "amount");
        }
        amount = *parsed;
    }
    if (amount > left) {
        return refuse("Refund amount (" + std::to_string(amount) +
                          ") is greater than unrefunded amount on charge (" + std::to_string(left) +
                          ")",
                      "amount_too_large", "amount");
    }
    const std::string reason = get(p, "reason").value_or("");
    if (!reason.empty() && reason != "duplicate" && reason != "fraudulent" &&
        reason != "requested_by_customer") {
        return refuse(
            "Invalid reason: must be one of duplicate, fraudulent, or "
            "requested_by_customer",
            "", "reason");
    }
    const std::string id = new_id("re");
    objects_[id] = {{"id", id},
                    {"object", "refund"},
                    {"amount", amount},
                    {"charge", charge["id"]},
                    {"created", now_s()},
                    {"currency", charge["currency"]},
                    {"metadata", metadata_of(p)},
                    {"payment_intent", pi_id},
                    {"reason", nullable(reason)},
                    {"status", "succeeded"}};
    charge["amount_refunded"] = charge["amount_refunded"].get<std::int64_t>() + amount;
    charge["refunded"] = charge["amount_refunded"] == charge["amount"];
    ev.push_back({"charge.refunded", charge});
    return {200, objects_[id]};
}

}  // namespace vpsfleet::testing
