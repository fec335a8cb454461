#include "common/router.hpp"

namespace vpsfleet::http {
namespace {

template <class String>
std::vector<String> split_path(std::string_view path) {
    std::vector<String> out;
    std::size_t start = 0;
    while (start < path.size()) {
        if (path[start] == '/') {
            ++start;
            continue;
        }
        const auto end = path.find('/', start);
        const auto stop = end == std::string_view::npos ? path.size() : end;
        out.emplace_back(path.substr(start, stop - start));
        start = stop;
    }
    return out;
}

}  // namespace

router::router(error_builder make_error) : make_error_(std::move(make_error)) {}

void router::add(beast::http::verb method, std::string pattern, route_handler h) {
    auto segments = split_path<std::string>(pattern);
    routes_.push_back(route{method, std::move(pattern), std::move(segments), std::move(h)});
}

bool router::match(const route& r, const std::vector<std::string_view>& path, path_params& out) {
    if (r.segments.size() != path.size()) return false;
    path_params params;
    for (std::size_t i = 0; i < path.size(); ++i) {
        const std::string& seg = r.segments[i];
        if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}') {
            params.emplace(seg.substr(1, seg.size() - 2), std::string(path[i]));
        } else if (seg != path[i]) {
            return false;
        }
    }
    out = std::move(params);
    return true;
}

asio::awaitable<response> router::handle(request& req, std::string& matched) const {
    const std::string_view target(req.target().data(), req.target().size());
    const auto path_only = target.substr(0, target.find('?'));
    const auto path = split_path<std::string_view>(path_only);
    bool path_known = false;
    for (const auto& r : routes_) {
        path_params params;
        if (!match(r, path, params)) continue;
        path_known = true;
        if (r.method != req.method()) continue;
        matched = r.pattern;
        co_return co_await r.handler(req, params);
    }
    matched = "unmatched";
    const std::string what = std::string(req.method_string()) + " " + std::string(path_only);
    if (path_known)
        co_return make_error_(status::method_not_allowed, "method not allowed: " + what);
    co_return make_error_(status::not_found, "route not found: " + what);
}

}  // namespace vpsfleet::http
