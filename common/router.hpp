#pragma once
// Maps METHOD + path pattern ("/api/v1/instances/{id}") to a handler. An unknown path and a known
// path with the wrong method are told apart (404 vs 405) so clients can tell a missing route from a
// missing resource.
#include "common/http_server.hpp"

#include <map>
#include <string>
#include <vector>

namespace vpsfleet::http {

using path_params = std::map<std::string, std::string, std::less<>>;
using route_handler = std::function<asio::awaitable<response>(request&, const path_params&)>;

class router {
  public:
    explicit router(error_builder make_error = json_error);

    void add(beast::http::verb method, std::string pattern, route_handler h);

    // Dispatches the request; `matched` receives the route pattern, or "unmatched", so metrics
    // labels stay bounded whatever paths clients send.
    asio::awaitable<response> handle(request& req, std::string& matched) const;

  private:
    struct route {
        beast::http::verb method;
        std::string pattern;
        std::vector<std::string> segments;
        route_handler handler;
    };
    static bool match(const route& r, const std::vector<std::string_view>& path, path_params& out);

    error_builder make_error_;
    std::vector<route> routes_;
};

}  // namespace vpsfleet::http
