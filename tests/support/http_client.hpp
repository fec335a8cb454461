#pragma once
// A blocking HTTP/1.1 client for tests, with a hard timeout on the whole exchange.
#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace vpsfleet::testing {

struct http_reply {
    int status = 0;  // 0: no answer (refused, reset or timed out)
    std::string body;
    std::map<std::string, std::string> headers;  // lower-case names
    std::string error;
};

using http_headers = std::map<std::string, std::string>;

http_reply http_request(const std::string& host, std::uint16_t port, const std::string& method,
                        const std::string& target, const std::string& body = {},
                        std::chrono::milliseconds timeout = std::chrono::seconds(10),
                        const http_headers& headers = {});

inline http_reply http_get(const std::string& host, std::uint16_t port, const std::string& target) {
    return http_request(host, port, "GET", target);
}

// Polls GET target until it answers `status` or the timeout passes; returns the last reply.
http_reply wait_for_status(const std::string& host, std::uint16_t port, const std::string& target,
                           int status, std::chrono::milliseconds timeout);

}  // namespace vpsfleet::testing
