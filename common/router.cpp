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

std::vector<std::string> split_pattern(std::string_view pattern) {
    return split_path<std::string>(pattern);
}

std::vector<std::string_view> split_target_path(std::string_view path) {
    return split_path<std::string_view>(path);
}

bool match_segments(const std::vector<std::string>& pattern,
                    const std::vector<std::string_view>& path, path_params& out) {
    if (pattern.size() != path.size()) return false;
    path_params params;
    for (std::size_t i = 0; i < path.size(); ++i) {
        const std::string& seg = pattern[i];
        if (seg.size() > 2 && seg.front() == '{' && seg.back() == '}') {
            params.emplace(seg.substr(1, seg.size() - 2), std::string(path[i]));
        } else if (seg != path[i]) {
            return false;
        }
    }
    out = std::move(params);
    return true;
}

std::string_view target_path(const request& req) {
    const std::string_view target(req.target().data(), req.target().size());
    return target.substr(0, target.find('?'));
}

}  // namespace vpsfleet::http
