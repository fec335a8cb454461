#pragma once
// Maps METHOD + path pattern ("/api/v1/instances/{id}") to a handler. An unknown path and a known
// path with the wrong method are told apart (404 vs 405) so clients can tell a missing route from a
// missing resource. Handlers may take extra per-request context (the APIs pass their caller).
#include "common/http_server.hpp"

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace vpsfleet::http {

using path_params = std::map<std::string, std::string, std::less<>>;

std::vector<std::string> split_pattern(std::string_view pattern);
std::vector<std::string_view> split_target_path(std::string_view path);
// Fills `out` when the pattern's segments match the path's.
bool match_segments(const std::vector<std::string>& pattern,
                    const std::vector<std::string_view>& path, path_params& out);
// The target without its query string.
std::string_view target_path(const request& req);

template <class... Context>
class basic_router {
  public:
    using handler_type =
        std::function<asio::awaitable<response>(request&, const path_params&, Context&...)>;

    explicit basic_router(error_builder make_error = json_error)
        : make_error_(std::move(make_error)) {}

    void add(beast::http::verb method, std::string pattern, handler_type h) {
        auto segments = split_pattern(pattern);
        routes_.push_back(route{method, std::move(pattern), std::move(segments), std::move(h)});
    }

    // Dispatches the request; `matched` receives the route pattern, or "unmatched", so metrics
    // labels stay bounded whatever paths clients send.
    asio::awaitable<response> handle(request& req, std::string& matched, Context&... ctx) const {
        const auto path_only = target_path(req);
        const auto path = split_target_path(path_only);
        bool path_known = false;
        for (const auto& r : routes_) {
            path_params params;
            if (!match_segments(r.segments, path, params)) continue;
            path_known = true;
            if (r.method != req.method()) continue;
            matched = r.pattern;
            co_return co_await r.handler(req, params, ctx...);
        }
        matched = "unmatched";
        const std::string what = std::string(req.method_string()) + " " + std::string(path_only);
        if (path_known)
            co_return make_error_(status::method_not_allowed, "method not allowed: " + what);
        co_return make_error_(status::not_found, "route not found: " + what);
    }

  private:
    struct route {
        beast::http::verb method;
        std::string pattern;
        std::vector<std::string> segments;
        handler_type handler;
    };

    error_builder make_error_;
    std::vector<route> routes_;
};

using router = basic_router<>;
using route_handler = router::handler_type;

}  // namespace vpsfleet::http
