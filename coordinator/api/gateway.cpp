#include "coordinator/api/gateway.hpp"

#include "common/log.hpp"
#include "common/secrets.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/api/idempotency.hpp"
#include "coordinator/auth/auth_failure.hpp"
#include "coordinator/auth/authenticator.hpp"
#include "coordinator/store/connection_pool.hpp"

#include <boost/beast/websocket/rfc6455.hpp>

#include <algorithm>
#include <chrono>

namespace vpsfleet::api {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;

namespace {

bool sane_request_id(std::string_view id) {
    return !id.empty() && id.size() <= 128 && std::ranges::all_of(id, [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
               c == ':';
    });
}

std::string header(const http::request& req, std::string_view name) {
    const auto it = req.find(boost::beast::string_view(name.data(), name.size()));
    return it == req.end() ? std::string() : std::string(it->value());
}

}  // namespace

gateway::gateway(store::database& db, const coordinator::api_config& cfg, auth::key_ring& keys,
                 metrics::http_metrics& metrics)
    : db_(db),
      cfg_(cfg),
      keys_(keys),
      metrics_(metrics),
      limiter_(cfg.rate_limit.window),
      customer_(flavor::customer, std::string(customer_base), db),
      admin_(flavor::admin, std::string(admin_base), db) {}

http::handler gateway::handler() {
    return [this](http::request& req) { return handle(req); };
}

http::upgrade_handler gateway::upgrade_handler() {
    return [this](http::request& req) -> asio::awaitable<http::upgrade_answer> {
        call c;
        http::response res = co_await handle(req, c);
        if (res.result() != http::status::switching_protocols) c.websocket = nullptr;
        co_return http::upgrade_answer{std::move(res), std::move(c.websocket)};
    };
}

asio::awaitable<http::response> gateway::handle(http::request& req) {
    call c;
    co_return co_await handle(req, c);
}

asio::awaitable<http::response> gateway::handle(http::request& req, call& c) {
    const auto started = std::chrono::steady_clock::now();
    c.api = flavor_of(http::target_path(req));
    c.client_ip = header(req, http::peer_address_field);
    const std::string given_id = header(req, "X-Request-Id");
    c.request_id = sane_request_id(given_id) ? given_id : secrets::random_token("req_", 12);
    std::string matched = "unmatched";

    http::response res;
    rate_limiter::decision limit;
    try {
        if (req.method() == bhttp::verb::options && req.count(bhttp::field::origin) &&
            req.count(bhttp::field::access_control_request_method)) {
            res = preflight(req);
            matched = "preflight";
        } else {
            if (c.api != flavor::plain) {
                co_await identify(req, c);
                const std::string bucket = c.who.anonymous() ? "ip:" + c.client_ip : c.who.bucket();
                const auto& rl = cfg_.rate_limit;
                const std::int64_t cap = c.who.type == auth::principal::kind::api_key ? rl.api_key
                                         : c.who.anonymous()                          ? rl.anonymous
                                                                                      : rl.user;
                limit = limiter_.take(bucket, cap);
                if (!limit.allowed) {
                    throw api_error(http::status::too_many_requests, "rate_limited",
                                    "Too many requests; retry after " +
                                        std::to_string(limit.retry_after) + " s");
                }
            }
            res = co_await route_idempotent(req, matched, c);
        }
    } catch (const api_error& e) {
        res = error_response(c.api, e.status, e.code, e.what(), e.details, c.request_id);
    } catch (const auth::auth_failure& e) {
        res = error_response(c.api, http::status::unauthorized, e.code, e.what(), nullptr,
                             c.request_id);
    } catch (const pqxx::broken_connection& e) {
        log::warn("database unreachable during request",
                  {{"request_id", c.request_id}, {"error", e.what()}});
        res =
            error_response(c.api, http::status::service_unavailable, "service_unavailable",
                           "The database is unreachable; try again shortly", nullptr, c.request_id);
    } catch (const store::pool_exhausted& e) {
        res = error_response(c.api, http::status::service_unavailable, "service_unavailable",
                             "The service is busy; try again shortly", nullptr, c.request_id);
    } catch (const std::exception& e) {
        log::error("request failed",
                   {{"request_id", c.request_id}, {"route", matched}, {"error", e.what()}});
        res = error_response(c.api, http::status::internal_server_error, "internal_error",
                             "Internal error", nullptr, c.request_id);
    }

    res.set("X-Request-Id", c.request_id);
    if (limit.limit > 0) {
        res.set("X-RateLimit-Limit", std::to_string(limit.limit));
        res.set("X-RateLimit-Remaining", std::to_string(limit.remaining));
        res.set("X-RateLimit-Reset", std::to_string(limit.reset_unix));
        if (!limit.allowed) res.set(bhttp::field::retry_after, std::to_string(limit.retry_after));
    }
    add_cors(req, res);

    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - started;
    metrics_.observe(matched, std::string(req.method_string()), res.result_int(), elapsed);
    log::info("http request", {{"request_id", c.request_id},
                               {"method", std::string(req.method_string())},
                               {"path", std::string(http::target_path(req))},
                               {"route", matched},
                               {"status", res.result_int()},
                               {"duration_ms", elapsed.count() * 1000.0},
                               {"client", c.client_ip},
                               {"principal", c.who.bucket()}});
    co_return res;
}

asio::awaitable<void> gateway::identify(const http::request& req, call& c) {
    std::string authorization = header(req, "Authorization");
    std::string target(req.target());
    if (authorization.empty() && c.api == flavor::admin &&
        boost::beast::websocket::is_upgrade(req)) {
        if (const auto credential = query_param(req, "auth")) {
            // Access tokens have dots; base64 (a NIP-98 event) has none.
            const bool token = credential->find('.') != std::string::npos;
            authorization = (token ? "Bearer " : "Nostr ") + *credential;
            target = without_query_param(target, "auth");
        }
    }
    if (authorization.empty()) co_return;
    auth::key_ring& keys = keys_;
    std::string base = cfg_.public_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    const auto method = req.method_string();
    const auth::request_facts facts{std::string_view(method.data(), method.size()), base + target,
                                    req.body()};
    auto resolve = [&keys, &authorization, &facts](pqxx::connection& conn) {
        return auth::authenticate(conn, keys.signer(conn), authorization, facts);
    };
    c.who = co_await db_.run(resolve);
}

asio::awaitable<http::response> gateway::route(http::request& req, std::string& matched, call& c) {
    switch (c.api) {
        case flavor::customer:
            co_return co_await customer_.handle(req, matched, c);
        case flavor::admin:
            co_return co_await admin_.handle(req, matched, c);
        case flavor::plain:
            break;
    }
    co_return co_await plain_.handle(req, matched);
}

asio::awaitable<http::response> gateway::route_idempotent(http::request& req, std::string& matched,
                                                          call& c) {
    const std::string key = header(req, "Idempotency-Key");
    if (key.empty() || req.method() != bhttp::verb::post || c.api == flavor::plain) {
        co_return co_await route(req, matched, c);
    }
    if (key.size() > 255) throw bad_request("Idempotency-Key must be at most 255 characters");
    const std::string scope = c.who.anonymous() ? "ip:" + c.client_ip : c.who.bucket();
    const std::string hash = secrets::sha256_hex(std::string(req.method_string()) + " " +
                                                 std::string(req.target()) + "\n" + req.body());
    auto claim = [&scope, &key, &hash](pqxx::connection& conn) {
        return claim_idempotency_key(conn, scope, key, hash);
    };
    const auto claimed = co_await db_.run(claim);
    using state = idempotency_claim::state;
    if (claimed.outcome == state::mismatch) {
        throw api_error(http::status::unprocessable_entity, "idempotency_key_reused",
                        "This Idempotency-Key was used with a different request");
    }
    if (claimed.outcome == state::in_progress) {
        throw conflict("idempotency_in_progress",
                       "A request with this Idempotency-Key is still running; retry shortly");
    }
    if (claimed.outcome == state::replay) {
        auto res = http::text_response(static_cast<http::status>(claimed.response.status),
                                       claimed.response.body, claimed.response.content_type);
        res.set("Idempotent-Replayed", "true");
        matched = "idempotent_replay";
        co_return res;
    }
    auto release = [&scope, &key](pqxx::connection& conn) {
        release_idempotency_key(conn, scope, key);
    };
    // A refused or failed request changed nothing, so its key is freed for a corrected retry.
    // (co_await is not allowed inside a handler, hence the exception_ptr.)
    http::response res;
    std::exception_ptr failure;
    try {
        res = co_await route(req, matched, c);
    } catch (...) {
        failure = std::current_exception();
    }
    if (failure || res.result_int() >= 500) {
        co_await db_.run(release);
        if (failure) std::rethrow_exception(failure);
        co_return res;
    }
    const stored_response stored{static_cast<int>(res.result_int()),
                                 std::string(res[bhttp::field::content_type]), res.body()};
    auto store = [&scope, &key, &stored](pqxx::connection& conn) {
        store_idempotent_response(conn, scope, key, stored);
    };
    co_await db_.run(store);
    co_return res;
}

void gateway::add_cors(const http::request& req, http::response& res) const {
    const std::string origin = header(req, "Origin");
    if (origin.empty()) return;
    const auto& allowed = cfg_.cors_origins;
    const bool any = std::ranges::find(allowed, "*") != allowed.end();
    if (!any && std::ranges::find(allowed, origin) == allowed.end()) return;
    res.set(bhttp::field::access_control_allow_origin, any ? "*" : origin);
    res.set(bhttp::field::access_control_expose_headers,
            "X-Request-Id, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, "
            "Retry-After, Idempotent-Replayed");
    if (!any) res.set(bhttp::field::vary, "Origin");
}

http::response gateway::preflight(const http::request& req) const {
    http::response res{http::status::no_content, 11};
    const std::string origin = header(req, "Origin");
    const auto& allowed = cfg_.cors_origins;
    const bool any = std::ranges::find(allowed, "*") != allowed.end();
    if (any || std::ranges::find(allowed, origin) != allowed.end()) {
        res.set(bhttp::field::access_control_allow_methods, "GET, POST, PUT, PATCH, DELETE");
        res.set(bhttp::field::access_control_allow_headers,
                "Authorization, Content-Type, Idempotency-Key, X-Request-Id");
        res.set(bhttp::field::access_control_max_age, "600");
    }
    return res;
}

}  // namespace vpsfleet::api
