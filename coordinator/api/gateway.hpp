#pragma once
// The REST front door. For every request: a request id (the client's X-Request-Id when sane,
// else a new one, echoed back and logged), CORS, the caller's identity, rate limiting, the
// Idempotency-Key replay, dispatch to the plain, customer or admin routes, errors rendered in the
// calling API's shape, one access-log line and the HTTP metrics.
#include "common/metrics.hpp"
#include "common/router.hpp"
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/rate_limiter.hpp"
#include "coordinator/auth/key_ring.hpp"
#include "coordinator/config.hpp"
#include "coordinator/store/database.hpp"

namespace vpsfleet::api {

class gateway {
  public:
    gateway(store::database& db, const coordinator::api_config& cfg, auth::key_ring& keys,
            metrics::http_metrics& metrics);

    http::router& plain() { return plain_; }
    endpoints& customer() { return customer_; }
    endpoints& admin() { return admin_; }

    boost::asio::awaitable<http::response> handle(http::request& req);
    http::handler handler();
    // WebSocket upgrades take the same way (auth, rate limits, routes, logs); a route accepting
    // one answers 101 and leaves its session in the call. Browsers cannot set headers on a
    // WebSocket, so an admin upgrade may carry its credential in `?auth=`: a NIP-98 event
    // (base64, signed for the URL without `auth`) or an access token.
    http::upgrade_handler upgrade_handler();

  private:
    boost::asio::awaitable<http::response> handle(http::request& req, call& c);
    boost::asio::awaitable<http::response> route(http::request& req, std::string& matched, call& c);
    boost::asio::awaitable<http::response> route_idempotent(http::request& req,
                                                            std::string& matched, call& c);
    boost::asio::awaitable<void> identify(const http::request& req, call& c);
    void add_cors(const http::request& req, http::response& res) const;
    http::response preflight(const http::request& req) const;

    store::database& db_;
    const coordinator::api_config& cfg_;
    auth::key_ring& keys_;
    metrics::http_metrics& metrics_;
    rate_limiter limiter_;
    http::router plain_;
    endpoints customer_;
    endpoints admin_;
};

}  // namespace vpsfleet::api
