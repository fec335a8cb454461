#include "tests/fakes/fake_stripe.hpp"

#include "tests/fakes/stripe_ledger.hpp"
#include "tests/support/fake_https_server.hpp"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <boost/beast/http.hpp>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

namespace vpsfleet::testing {

namespace http = boost::beast::http;
using json = nlohmann::json;
using request = fake_request;
using response = fake_response;

namespace {

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::string base64(std::string_view data) {
    std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(data.data()),
                                  static_cast<int>(data.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

// Stripe's webhook signature: lower-case hex HMAC-SHA256 of "<t>.<body>" keyed with the secret.
std::string stripe_signature(std::int64_t t, const std::string& body, const std::string& secret) {
    const std::string signed_payload = std::to_string(t) + "." + body;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(signed_payload.data()), signed_payload.size(), mac,
         &length);
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    for (unsigned int i = 0; i < length; ++i) {
        out += hex[mac[i] >> 4];
        out += hex[mac[i] & 0xf];
    }
    return out;
}

std::optional<std::string> percent_decode(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out += ' ';
        } else if (s[i] == '%') {
            if (i + 2 >= s.size()) return std::nullopt;
            unsigned value = 0;
            for (const char c : s.substr(i + 1, 2)) {
                value *= 16;
                if (c >= '0' && c <= '9') {
                    value += static_cast<unsigned>(c - '0');
                } else if (c >= 'a' && c <= 'f') {
                    value += static_cast<unsigned>(c - 'a' + 10);
                } else if (c >= 'A' && c <= 'F') {
                    value += static_cast<unsigned>(c - 'A' + 10);
                } else {
                    return std::nullopt;
                }
            }
            out += static_cast<char>(value);
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::optional<stripe_params> parse_form(std::string_view text) {
    stripe_params out;
    while (!text.empty()) {
        const auto amp = text.find('&');
        const std::string_view pair = text.substr(0, amp);
        text = amp == std::string_view::npos ? std::string_view() : text.substr(amp + 1);
        if (pair.empty()) continue;
        const auto eq = pair.find('=');
        auto key = percent_decode(pair.substr(0, eq));
        auto value = percent_decode(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
        if (!key || !value || key->empty()) return std::nullopt;
        out.emplace_back(std::move(*key), std::move(*value));
    }
    return out;
}

json error_body(const std::string& type, const std::string& code, const std::string& message) {
    json error = {{"type", type}, {"message", message}};
    if (!code.empty()) error["code"] = code;
    return {{"error", error}};
}

// What the API answered, kept under an idempotency key.
struct saved_answer {
    std::string fingerprint;
    int status = 0;
    std::string body;
    std::string request_id;
};

struct delivery_job {
    std::size_t event_index = 0;
    std::int64_t signed_at = 0;
};

std::size_t discard(char*, std::size_t size, std::size_t nitems, void*) { return size * nitems; }

}  // namespace

struct fake_stripe::impl {
    fake_stripe_options options;
    mutable std::mutex mutex;
    stripe_ledger ledger;
    std::map<std::string, saved_answer> idempotency;
    std::vector<fake_stripe_request> requests;
    std::vector<fake_stripe_event> events;
    std::vector<fake_webhook_delivery> deliveries;
    fake_stripe_counts counts;
    std::deque<std::pair<int, json>> injected;  // failures still to answer, in order

    std::deque<delivery_job> queue;
    bool delivering = false;
    bool stopping = false;
    mutable std::condition_variable queue_changed;
    std::thread delivery_thread;
    // Last: stopped first, so the handler never sees the members above destroyed.
    std::unique_ptr<fake_https_server> server;

    explicit impl(fake_stripe_options o) : options(std::move(o)), ledger(options.max_page_size) {}

    // Under `mutex`.
    response handle(const request& req);
    response answer(int status, const std::string& body, const std::string& request_id);
    void raise(const std::vector<stripe_emitted>& emitted, const std::string& request_id,
               const std::string& idempotency_key);

    void delivery_loop();
    fake_webhook_delivery deliver(const fake_stripe_event& event, std::int64_t signed_at,
                                  const std::string& url, const std::string& secret) const;
};

response fake_stripe::impl::answer(int status, const std::string& body,
                                   const std::string& request_id) {
    response res{static_cast<http::status>(status), 11};
    res.set(http::field::server, "fake Stripe");
    res.set(http::field::content_type, "application/json");
    res.set("Request-Id", request_id);
    res.set("Stripe-Version", options.api_version);
    res.body() = body;
    return res;
}

response fake_stripe::impl::handle(const request& req) {
    const std::string request_id = ledger.new_id("req");
    fake_stripe_request seen{std::string(req.method_string()),
                             std::string(req.target()),
                             std::string(req[http::field::content_type]),
                             std::string(req["Stripe-Version"]),
                             std::string(req["Idempotency-Key"]),
                             req.body(),
                             0};
    ++counts.requests;
    const auto finish = [&](response res) {
        seen.status = static_cast<int>(res.result_int());
        if (options.verbose) {
            std::fprintf(stderr, "fake-stripe: %s %s -> %d\n", seen.method.c_str(),
                         seen.target.c_str(), seen.status);
        }
        requests.push_back(std::move(seen));
        return res;
    };
    const auto fail = [&](int status, const std::string& type, const std::string& code,
                          const std::string& message) {
        return finish(answer(status, error_body(type, code, message).dump(2), request_id));
    };

    const std::string authorization(req[http::field::authorization]);
    if (authorization.empty()) {
        ++counts.unauthorized;
        return fail(401, "invalid_request_error", "",
                    "You did not provide an API key. You need to provide your API key in the "
                    "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                    "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for "
                    "details, or we can help at https://support.stripe.com/.");
    }
    if (authorization != "Bearer " + options.secret_key &&
        authorization != "Basic " + base64(options.secret_key + ":")) {
        ++counts.unauthorized;
        const auto space = authorization.find(' ');
        std::string key = space == std::string::npos ? "" : authorization.substr(space + 1);
        if (key.size() > 4) key = std::string(key.size() - 4, '*') + key.substr(key.size() - 4);
        return fail(401, "invalid_request_error", "", "Invalid API Key provided: " + key);
    }

    const std::string target(req.target());
    const auto question = target.find('?');
    const std::string path = target.substr(0, question);
    const std::string method(req.method_string());
    std::optional<stripe_params> params;
    if (method == "GET" || method == "DELETE") {
        params = parse_form(question == std::string::npos ? "" : target.substr(question + 1));
    } else {
        const std::string content_type(req[http::field::content_type]);
        if (!req.body().empty() && !content_type.starts_with("application/x-www-form-urlencoded")) {
            return fail(400, "invalid_request_error", "",
                        "Invalid request: the body must be application/x-www-form-urlencoded, "
                        "not \"" +
                            content_type + "\".");
        }
        params = parse_form(req.body());
    }
    if (!params) {
        return fail(400, "invalid_request_error", "", "Invalid request: bad form encoding.");
    }

    const std::string key(req["Idempotency-Key"]);
    std::string fingerprint;
    if (method == "POST" && !key.empty()) {
        if (key.size() > 255) {
            return fail(400, "invalid_request_error", "",
                        "Idempotency-Key must be at most 255 characters long.");
        }
        stripe_params sorted = *params;
        std::sort(sorted.begin(), sorted.end());
        fingerprint = method + " " + path;
        for (const auto& [k, v] : sorted) fingerprint += "\n" + k + "=" + v;
        if (const auto saved = idempotency.find(key); saved != idempotency.end()) {
            if (saved->second.fingerprint != fingerprint) {
                ++counts.idempotency_conflicts;
                return fail(400, "idempotency_error", "",
                            "Keys for idempotent requests can only be used with the same "
                            "parameters they were first used with. Try using a key other than '" +
                                key + "' if you meant to execute a different request.");
            }
            ++counts.idempotent_replays;
            response res = answer(saved->second.status, saved->second.body, request_id);
            res.set("Idempotent-Replayed", "true");
            res.set("Original-Request", saved->second.request_id);
            return finish(std::move(res));
        }
    }

    if (!injected.empty()) {
        const auto [status, body] = injected.front();
        injected.pop_front();
        return finish(answer(status, body.dump(2), request_id));
    }

    std::vector<stripe_emitted> emitted;
    const stripe_answer result = ledger.handle(method, path, *params, emitted);
    const std::string body = result.body.dump(2);
    if (!fingerprint.empty() && result.executed) {
        idempotency[key] = {fingerprint, result.status, body, request_id};
    }
    raise(emitted, request_id, key);
    return finish(answer(result.status, body, request_id));
}

void fake_stripe::impl::raise(const std::vector<stripe_emitted>& emitted,
                              const std::string& request_id, const std::string& idempotency_key) {
    for (const auto& e : emitted) {
        const std::string id = ledger.new_id("evt");
        const json event = {{"id", id},
                            {"object", "event"},
                            {"api_version", options.api_version},
                            {"created", unix_now()},
                            {"data", {{"object", e.object}}},
                            {"livemode", false},
                            {"pending_webhooks", options.webhook_url.empty() ? 0 : 1},
                            {"request",
                             {{"id", request_id},
                              {"idempotency_key",
                               idempotency_key.empty() ? json(nullptr) : json(idempotency_key)}}},
                            {"type", e.type}};
        // Stripe posts its events indented; a receiver must verify the bytes, not a re-encoding.
        events.push_back({id, e.type, event.dump(2)});
        ++counts.events;
        if (!options.webhook_url.empty()) {
            queue.push_back({events.size() - 1, unix_now()});
            queue_changed.notify_all();
        }
    }
}

void fake_stripe::impl::delivery_loop() {
    std::unique_lock lock(mutex);
    for (;;) {
        queue_changed.wait(lock, [&] { return stopping || !queue.empty(); });
        if (stopping) return;
        const delivery_job job = queue.front();
        queue.pop_front();
        delivering = true;
        const fake_stripe_event event = events[job.event_index];
        const std::string url = options.webhook_url;
        const std::string secret = options.webhook_secret;
        lock.unlock();
        fake_webhook_delivery done = deliver(event, job.signed_at, url, secret);
        lock.lock();
        if (options.verbose) {
            std::fprintf(stderr, "fake-stripe: webhook %s %s -> %d%s%s\n", event.id.c_str(),
                         event.type.c_str(), done.status, done.error.empty() ? "" : " ",
                         done.error.c_str());
        }
        deliveries.push_back(std::move(done));
        delivering = false;
        queue_changed.notify_all();
    }
}

fake_webhook_delivery fake_stripe::impl::deliver(const fake_stripe_event& event,
                                                 std::int64_t signed_at, const std::string& url,
                                                 const std::string& secret) const {
    fake_webhook_delivery out{event.id, event.type, signed_at, 0, {}};
    CURL* curl = curl_easy_init();
    if (curl == nullptr) {
        out.error = "libcurl could not create a handle";
        return out;
    }
    const std::string signature = "Stripe-Signature: t=" + std::to_string(signed_at) +
                                  ",v1=" + stripe_signature(signed_at, event.payload, secret);
    curl_slist* headers = nullptr;
    for (const char* line :
         {"Content-Type: application/json; charset=utf-8",
          "User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)", "Cache-Control: no-cache",
          "Accept: */*; q=0.5, application/xml", "Expect:", signature.c_str()}) {
        headers = curl_slist_append(headers, line);
    }
    char error[CURL_ERROR_SIZE] = {};
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, event.payload.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(event.payload.size()));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_PROXY, "");
    curl_blob ca{const_cast<char*>(options.webhook_ca_pem.data()), options.webhook_ca_pem.size(),
                 CURL_BLOB_NOCOPY};
    if (!options.webhook_ca_pem.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO_BLOB, &ca);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(options.webhook_timeout.count()));
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    const CURLcode rc = curl_easy_perform(curl);
    if (rc == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        out.status = static_cast<int>(status);
    } else {
        out.error = error[0] != '\0' ? error : curl_easy_strerror(rc);
    }
    curl_slist_free_all(headers);
    curl_easy_cleanup(curl);
    return out;
}

fake_stripe::fake_stripe(fake_stripe_options options)
    : impl_(std::make_unique<impl>(std::move(options))) {
    impl& s = *impl_;
    static std::once_flag curl_once;
    std::call_once(curl_once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
    fake_https_server_options server;
    server.tls = s.options.tls;
    server.bind_address = s.options.bind_address;
    server.port = s.options.port;
    server.ca_name = "fake Stripe CA";
    s.server = std::make_unique<fake_https_server>(std::move(server), [&s](const request& req) {
        std::lock_guard lock(s.mutex);
        return s.handle(req);
    });
    s.delivery_thread = std::thread([&s] { s.delivery_loop(); });
}

fake_stripe::~fake_stripe() {
    {
        std::lock_guard lock(impl_->mutex);
        impl_->stopping = true;
    }
    impl_->queue_changed.notify_all();
    impl_->delivery_thread.join();
    impl_->server->stop();
}

std::uint16_t fake_stripe::port() const { return impl_->server->port(); }

std::string fake_stripe::url() const { return impl_->server->url(); }

const std::string& fake_stripe::ca_pem() const { return impl_->server->ca_pem(); }
const std::string& fake_stripe::secret_key() const { return impl_->options.secret_key; }
const std::string& fake_stripe::webhook_secret() const { return impl_->options.webhook_secret; }

fake_stripe_counts fake_stripe::counts() const {
    std::lock_guard lock(impl_->mutex);
    fake_stripe_counts out = impl_->counts;
    out.customers = impl_->ledger.count("customer");
    out.payment_methods = impl_->ledger.count("payment_method");
    out.payment_intents = impl_->ledger.count("payment_intent");
    out.setup_intents = impl_->ledger.count("setup_intent");
    out.refunds = impl_->ledger.count("refund");
    return out;
}

std::vector<fake_stripe_request> fake_stripe::requests() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->requests;
}

std::vector<fake_stripe_event> fake_stripe::events() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->events;
}

std::vector<fake_webhook_delivery> fake_stripe::deliveries() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->deliveries;
}

json fake_stripe::object(const std::string& id) const {
    std::lock_guard lock(impl_->mutex);
    return impl_->ledger.find(id);
}

void fake_stripe::set_webhook_url(const std::string& url) {
    std::lock_guard lock(impl_->mutex);
    impl_->options.webhook_url = url;
}

void fake_stripe::set_delay(std::chrono::milliseconds delay) { impl_->server->set_delay(delay); }

void fake_stripe::fail_next_request(int status, const std::string& type, const std::string& code,
                                    const std::string& message) {
    std::lock_guard lock(impl_->mutex);
    impl_->injected.emplace_back(status, error_body(type, code, message));
}

void fake_stripe::resend_last_event(
    std::optional<std::chrono::system_clock::time_point> signed_at) {
    std::lock_guard lock(impl_->mutex);
    if (impl_->events.empty() || impl_->options.webhook_url.empty()) return;
    const std::int64_t t =
        signed_at ? std::chrono::duration_cast<std::chrono::seconds>(signed_at->time_since_epoch())
                        .count()
                  : unix_now();
    impl_->queue.push_back({impl_->events.size() - 1, t});
    impl_->queue_changed.notify_all();
}

bool fake_stripe::wait_for_webhooks(std::chrono::milliseconds timeout) const {
    std::unique_lock lock(impl_->mutex);
    return impl_->queue_changed.wait_for(
        lock, timeout, [&] { return impl_->queue.empty() && !impl_->delivering; });
}

}  // namespace vpsfleet::testing
