#pragma once
// One blocking HTTP(S) request with a deadline, for the coordinator's calls to services outside
// the fleet (routers, payment providers). The certificate is always verified (host name included;
// SNI is sent for host names), against `ca_pem` when given or else the system's trust store. No
// http(s)_proxy from the environment is used: the callers' secrets must reach only their service.
// Run it on a job or worker thread, never an I/O thread.
#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vpsfleet::net {

struct request {
    std::string method = "GET";
    std::string url;  // http:// or https://
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;  // sent when not empty, and always (maybe empty) with POST, PUT and PATCH
    // HTTP Basic auth, when `basic_user` is not empty.
    std::string basic_user;
    std::string basic_password;
    std::string ca_pem;                         // PEM trust anchors replacing the system store
    std::chrono::milliseconds timeout{10'000};  // the whole exchange, connecting included
    std::size_t max_response_bytes = 32 * 1024 * 1024;
};

struct response {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;  // lower-case names, in order
    std::string body;

    // The first value of the header `name` (any case), empty when absent.
    std::string header(std::string_view name) const;
};

// A request that got no HTTP answer. Codes: invalid_request (a header with a line break),
// unreachable (name not resolved, connection refused), timeout, tls_failed (handshake or
// certificate), too_large (the answer exceeds max_response_bytes), transport_failed (anything
// else, e.g. the connection broke mid-request: the server may have acted on it).
struct transport_error : std::runtime_error {
    transport_error(std::string code, const std::string& message);
    std::string code;
};

// Any HTTP status is a response; only a missing answer throws transport_error.
response perform(const request& req);

}  // namespace vpsfleet::net
