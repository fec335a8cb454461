#include "coordinator/billing/stripe_client.hpp"
#include "common/ascii_case.hpp"

#include "common/build_info.hpp"
#include "common/log.hpp"
#include "coordinator/net/https_request.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <string_view>

namespace vpsfleet::billing {
namespace {

using json = nlohmann::json;
// Ordered key/value pairs; keys carry Stripe's nesting already ("metadata[order]").
using form = std::vector<std::pair<std::string, std::string>>;

constexpr std::size_t k_max_response = 8 * 1024 * 1024;
// A customer with more cards than this many pages of 100 is a bug somewhere.
constexpr int k_max_pages = 50;

// application/x-www-form-urlencoded as Stripe's own libraries write it: unreserved characters as
// they are, space as '+', everything else %XX; brackets stay literal in keys.
std::string form_escape(std::string_view s, bool key) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(s.size());
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
            (key && (c == '[' || c == ']'))) {
            out += ch;
        } else if (c == ' ') {
            out += '+';
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 0xf];
        }
    }
    return out;
}

std::string encode_form(const form& fields) {
    std::string out;
    for (const auto& [key, value] : fields) {
        if (!out.empty()) out += '&';
        out += form_escape(key, true);
        out += '=';
        out += form_escape(value, false);
    }
    return out;
}

payment_error invalid_request(const std::string& message) {
    return payment_error("invalid_request", message);
}

// Stripe ids are a prefix, '_' and letters and digits; nothing else may reach a URL path.
void require_id(const std::string& id, const char* what) {
    const bool ok =
        !id.empty() && id.size() <= 255 && std::all_of(id.begin(), id.end(), [](char ch) {
            const auto c = static_cast<unsigned char>(ch);
            return std::isalnum(c) || c == '_';
        });
    if (!ok) throw invalid_request(std::string(what) + " \"" + id + "\" is not a Stripe id");
}

void require_idempotency_key(const std::string& key) {
    const bool ok = !key.empty() && key.size() <= 255 &&
                    std::all_of(key.begin(), key.end(), [](char c) { return c > ' ' && c < 127; });
    if (!ok) {
        throw invalid_request("an idempotency key must be 1 to 255 printable ASCII characters");
    }
}

std::string wire_currency(const std::string& currency) {
    std::string out = currency;
    const bool ok = out.size() == 3 && std::all_of(out.begin(), out.end(), [](char c) {
                        return std::isalpha(static_cast<unsigned char>(c));
                    });
    if (!ok) throw invalid_request("\"" + currency + "\" is not an ISO 4217 currency code");
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// A string field; an expanded object counts as its id; null or absent as "".
std::string text(const json& object, const char* key) {
    if (!object.is_object()) return {};
    const auto it = object.find(key);
    if (it == object.end()) return {};
    if (it->is_string()) return it->get<std::string>();
    if (it->is_object()) return text(*it, "id");
    return {};
}

std::int64_t integer(const json& object, const char* key) {
    if (!object.is_object()) return 0;
    const auto it = object.find(key);
    return it != object.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

payment_intent intent_from(const json& o) {
    payment_intent pi;
    pi.id = text(o, "id");
    pi.status = text(o, "status");
    pi.amount = integer(o, "amount");
    pi.currency = ascii_upper(text(o, "currency"));
    pi.client_secret = text(o, "client_secret");
    pi.customer = text(o, "customer");
    pi.payment_method = text(o, "payment_method");
    if (const auto it = o.find("last_payment_error"); it != o.end() && it->is_object()) {
        pi.last_error_code = text(*it, "code");
        pi.last_error_message = text(*it, "message");
    }
    return pi;
}

// Everything a request needs except its own path, parameters and key.
struct endpoint {
    std::string base;
    std::string secret_key;
    std::string ca_pem;
    std::chrono::milliseconds timeout;
    std::string api_version;
};

payment_error api_error(const net::response& res, const std::string& request) {
    json error;
    try {
        const json body = json::parse(res.body);
        if (body.is_object() && body.contains("error") && body["error"].is_object()) {
            error = body["error"];
        }
    } catch (const json::exception&) {
    }
    const int status = res.status;
    std::string code;
    if (status == 401 || status == 403) {
        code = "unauthorized";
    } else if (status == 404) {
        code = "not_found";
    } else if (status == 429) {
        code = "rate_limited";
    } else if (status >= 500) {
        code = "provider_failed";
    } else if (!text(error, "code").empty()) {
        code = text(error, "code");
    } else if (!text(error, "type").empty()) {
        code = text(error, "type");
    } else {
        code = error.is_null() ? "bad_response" : "provider_failed";
    }
    std::string message = text(error, "message");
    if (message.empty()) message = "no reason given";
    std::string where = " (HTTP " + std::to_string(status) + " to " + request;
    if (const auto id = res.header("request-id"); !id.empty()) where += ", request " + id;
    payment_error e(code, message + where + ")");
    e.type = text(error, "type");
    e.decline_code = text(error, "decline_code");
    e.param = text(error, "param");
    e.http_status = status;
    e.payment_intent_id = text(error, "payment_intent");
    const std::string retry = res.header("stripe-should-retry");
    if (retry == "true") e.provider_says_retry = true;
    if (retry == "false") e.provider_says_retry = false;
    return e;
}

// One call; Stripe's JSON object or a payment_error.
json call(const endpoint& to, const char* method, const std::string& path, const form& params,
          const std::string& idempotency_key = {}) {
    const std::string request = std::string(method) + " " + path;
    net::request req;
    req.method = method;
    req.url = to.base + path;
    const std::string encoded = encode_form(params);
    if (req.method == "GET") {
        if (!encoded.empty()) req.url += "?" + encoded;
    } else {
        req.body = encoded;
        req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
    }
    req.headers.emplace_back("Authorization", "Bearer " + to.secret_key);
    req.headers.emplace_back("Stripe-Version", to.api_version);
    req.headers.emplace_back("Accept", "application/json");
    req.headers.emplace_back("User-Agent", std::string("vpsfleet/") + build::version);
    if (!idempotency_key.empty()) req.headers.emplace_back("Idempotency-Key", idempotency_key);
    req.ca_pem = to.ca_pem;
    req.timeout = to.timeout;
    req.max_response_bytes = k_max_response;

    net::response res;
    try {
        res = net::perform(req);
    } catch (const net::transport_error& e) {
        const std::string code = e.code == "too_large" ? "bad_response" : e.code;
        throw payment_error(code == "invalid_request" ? "invalid_config" : code,
                            request + ": " + e.what());
    }
    if (res.status < 200 || res.status > 299) throw api_error(res, request);
    try {
        json body = json::parse(res.body);
        if (body.is_object()) return body;
    } catch (const json::exception&) {
    }
    throw payment_error("bad_response", request + ": Stripe's answer is not a JSON object");
}

// Stripe answers every create with the object, whose id nothing can do without.
const json& with_id(const json& object, const std::string& request) {
    if (text(object, "id").empty()) {
        throw payment_error("bad_response", request + ": Stripe's answer has no id");
    }
    return object;
}

class stripe_provider final : public payment_provider {
  public:
    explicit stripe_provider(endpoint to) : to_(std::move(to)) {}

    std::string create_customer(const std::string& email, const std::string& name,
                                const std::string& idempotency_key) override {
        require_idempotency_key(idempotency_key);
        form params;
        if (!email.empty()) params.emplace_back("email", email);
        if (!name.empty()) params.emplace_back("name", name);
        const json customer = call(to_, "POST", "/v1/customers", params, idempotency_key);
        return text(with_id(customer, "POST /v1/customers"), "id");
    }

    payment_intent create_payment_intent(const intent_request& request,
                                         const std::string& idempotency_key) override {
        require_idempotency_key(idempotency_key);
        if (request.amount <= 0) {
            throw invalid_request("a payment's amount must be positive, got " +
                                  std::to_string(request.amount));
        }
        if (request.confirm && !request.payment_method) {
            throw invalid_request("confirming a payment needs a payment method");
        }
        if (request.off_session && !request.confirm) {
            throw invalid_request("an off-session payment must be confirmed at once");
        }
        form params{{"amount", std::to_string(request.amount)},
                    {"currency", wire_currency(request.currency)},
                    {"payment_method_types[0]", "card"}};
        if (!request.customer_id.empty()) {
            require_id(request.customer_id, "customer");
            params.emplace_back("customer", request.customer_id);
        }
        if (request.payment_method) {
            require_id(*request.payment_method, "payment method");
            params.emplace_back("payment_method", *request.payment_method);
        }
        if (request.confirm) params.emplace_back("confirm", "true");
        if (request.off_session) params.emplace_back("off_session", "true");
        if (!request.description.empty()) params.emplace_back("description", request.description);
        for (const auto& [key, value] : request.metadata) {
            if (key.empty() || key.find_first_of("[]") != std::string::npos) {
                throw invalid_request("metadata key \"" + key + "\" is empty or holds [ or ]");
            }
            params.emplace_back("metadata[" + key + "]", value);
        }
        const json intent = call(to_, "POST", "/v1/payment_intents", params, idempotency_key);
        return intent_from(with_id(intent, "POST /v1/payment_intents"));
    }

    payment_intent retrieve_payment_intent(const std::string& id) override {
        require_id(id, "payment intent");
        const std::string path = "/v1/payment_intents/" + id;
        return intent_from(with_id(call(to_, "GET", path, {}), "GET " + path));
    }

    setup_intent create_setup_intent(const std::string& customer_id,
                                     const std::string& idempotency_key) override {
        require_idempotency_key(idempotency_key);
        require_id(customer_id, "customer");
        // off_session: the saved card is for renewals charged without the customer.
        const form params{{"customer", customer_id},
                          {"payment_method_types[0]", "card"},
                          {"usage", "off_session"}};
        const json si = with_id(call(to_, "POST", "/v1/setup_intents", params, idempotency_key),
                                "POST /v1/setup_intents");
        return {text(si, "id"), text(si, "client_secret"), text(si, "status")};
    }

    std::vector<payment_method_info> list_payment_methods(const std::string& customer_id) override {
        require_id(customer_id, "customer");
        std::vector<payment_method_info> out;
        std::string after;
        for (int page = 0; page < k_max_pages; ++page) {
            form params{{"customer", customer_id}, {"type", "card"}, {"limit", "100"}};
            if (!after.empty()) params.emplace_back("starting_after", after);
            const json list = call(to_, "GET", "/v1/payment_methods", params);
            const auto data = list.find("data");
            if (text(list, "object") != "list" || data == list.end() || !data->is_array()) {
                throw payment_error("bad_response",
                                    "GET /v1/payment_methods: Stripe's answer is not a list");
            }
            for (const auto& pm : *data) {
                const json& card = pm.is_object() && pm.contains("card") ? pm["card"] : json();
                out.push_back({text(pm, "id"), text(card, "brand"), text(card, "last4"),
                               static_cast<int>(integer(card, "exp_month")),
                               static_cast<int>(integer(card, "exp_year"))});
            }
            const auto more = list.find("has_more");
            if (data->empty() || more == list.end() || !more->is_boolean() || !more->get<bool>()) {
                return out;
            }
            const std::string last = out.back().id;
            if (last.empty() || last == after) {
                throw payment_error("bad_response",
                                    "GET /v1/payment_methods: Stripe's pages do not advance");
            }
            after = last;
        }
        throw payment_error("bad_response", "GET /v1/payment_methods: more than " +
                                                std::to_string(k_max_pages * 100) + " cards");
    }

    void detach_payment_method(const std::string& payment_method_id) override {
        require_id(payment_method_id, "payment method");
        call(to_, "POST", "/v1/payment_methods/" + payment_method_id + "/detach", {});
    }

    refund create_refund(const std::string& payment_intent_id, std::int64_t amount,
                         const std::string& reason, const std::string& idempotency_key) override {
        require_idempotency_key(idempotency_key);
        require_id(payment_intent_id, "payment intent");
        if (amount <= 0) {
            throw invalid_request("a refund's amount must be positive, got " +
                                  std::to_string(amount));
        }
        if (!reason.empty() && reason != "duplicate" && reason != "fraudulent" &&
            reason != "requested_by_customer") {
            throw invalid_request("refund reason \"" + reason +
                                  "\" is not duplicate, fraudulent or requested_by_customer");
        }
        form params{{"payment_intent", payment_intent_id}, {"amount", std::to_string(amount)}};
        if (!reason.empty()) params.emplace_back("reason", reason);
        const json re =
            with_id(call(to_, "POST", "/v1/refunds", params, idempotency_key), "POST /v1/refunds");
        return {text(re, "id"), text(re, "status"), integer(re, "amount"),
                ascii_upper(text(re, "currency"))};
    }

  private:
    endpoint to_;
};

payment_error invalid_config(const std::string& message) {
    return payment_error("invalid_config", message);
}

}  // namespace

std::unique_ptr<payment_provider> make_stripe_provider(const stripe_options& options) {
    std::string base = options.api_base;
    while (base.ends_with('/')) base.pop_back();
    const bool https = base.starts_with("https://");
    if (!https && !base.starts_with("http://")) {
        throw invalid_config("stripe api_base must start with https://, got \"" + base + "\"");
    }
    const std::string_view authority = std::string_view(base).substr(https ? 8 : 7);
    if (authority.empty() || authority.find_first_of("/?#@ \t\r\n") != std::string_view::npos) {
        throw invalid_config("stripe api_base must be a base URL, https://HOST[:PORT], got \"" +
                             base + "\"");
    }
    const std::string& key = options.secret_key;
    if (key.empty() || std::any_of(key.begin(), key.end(), [](char c) { return c <= ' '; })) {
        throw invalid_config("the Stripe secret key is empty or holds whitespace");
    }
    if (options.api_version.empty()) throw invalid_config("the Stripe API version is empty");
    if (!https) {
        log::warn("billing: the Stripe secret key travels in clear over http://; use https://",
                  {{"api_base", base}});
    }
    return std::make_unique<stripe_provider>(
        endpoint{base, key, options.ca_pem, options.timeout, options.api_version});
}

}  // namespace vpsfleet::billing
