#include "common/config_reader.hpp"

#include <charconv>
#include <filesystem>
#include <limits>

namespace vpsfleet::config {
namespace {

std::string quoted_choices(std::initializer_list<std::string_view> choices) {
    std::string out;
    for (auto c : choices) {
        if (!out.empty()) out += ", ";
        out += c;
    }
    return out;
}

template <class T>
std::optional<T> parse_number(std::string_view text) {
    T value{};
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc{} || ptr != end) return std::nullopt;
    return value;
}

}  // namespace

std::string endpoint::to_string() const {
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::optional<endpoint> parse_endpoint(std::string_view text) {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return std::nullopt;
    std::string_view host = text.substr(0, colon);
    if (host.front() == '[') {
        if (host.back() != ']' || host.size() < 3) return std::nullopt;
        host = host.substr(1, host.size() - 2);
    }
    const auto port = parse_number<std::uint16_t>(text.substr(colon + 1));
    if (!port) return std::nullopt;
    return endpoint{std::string(host), *port};
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
    using namespace std::chrono;
    struct unit {
        std::string_view suffix;
        std::int64_t ms;
    };
    static constexpr unit units[] = {
        {"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};
    for (const auto& u : units) {
        if (text.size() > u.suffix.size() && text.ends_with(u.suffix)) {
            auto digits = text.substr(0, text.size() - u.suffix.size());
            auto n = parse_number<std::int64_t>(digits);
            if (!n || *n < 0 || *n > std::numeric_limits<std::int64_t>::max() / u.ms) continue;
            return milliseconds(*n * u.ms);
        }
    }
    return std::nullopt;
}

section::section(YAML::Node node, std::string file, std::string path)
    : node_(std::move(node)), file_(std::move(file)), path_(std::move(path)) {}

std::string section::key_path(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

void section::fail(std::string_view key, std::string_view message) const {
    throw config_error(file_ + ": " + key_path(key) + ": " + std::string(message));
}

std::optional<YAML::Node> section::scalar(std::string_view key) {
    known_.emplace(key);
    if (!node_.IsMap()) return std::nullopt;
    YAML::Node value = node_[std::string(key)];
    if (!value.IsDefined() || value.IsNull()) return std::nullopt;
    if (!value.IsScalar()) fail(key, "expected a single value, got a list or mapping");
    return value;
}

std::string section::get_string(std::string_view key, std::string fallback) {
    auto v = scalar(key);
    return v ? v->Scalar() : std::move(fallback);
}

std::optional<std::string> section::get_optional_string(std::string_view key) {
    auto v = scalar(key);
    if (!v) return std::nullopt;
    return v->Scalar();
}

std::string section::get_choice(std::string_view key, std::string fallback,
                                std::initializer_list<std::string_view> choices) {
    std::string value = get_string(key, std::move(fallback));
    for (auto c : choices) {
        if (c == value) return value;
    }
    fail(key, "expected one of " + quoted_choices(choices) + ", got '" + value + "'");
}

std::int64_t section::get_int(std::string_view key, std::int64_t fallback, std::int64_t min,
                              std::int64_t max) {
    auto v = scalar(key);
    if (!v) return fallback;
    auto n = parse_number<std::int64_t>(v->Scalar());
    if (!n) fail(key, "expected an integer, got '" + v->Scalar() + "'");
    if (*n < min || *n > max) {
        fail(key, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                      ", got " + std::to_string(*n));
    }
    return *n;
}

bool section::get_bool(std::string_view key, bool fallback) {
    auto v = scalar(key);
    if (!v) return fallback;
    const std::string& s = v->Scalar();
    if (s == "true") return true;
    if (s == "false") return false;
    fail(key, "expected true or false, got '" + s + "'");
}

std::chrono::milliseconds section::get_duration(std::string_view key,
                                                std::chrono::milliseconds fallback,
                                                std::chrono::milliseconds min,
                                                std::chrono::milliseconds max) {
    auto v = scalar(key);
    if (!v) return fallback;
    auto d = parse_duration(v->Scalar());
    if (!d)
        fail(key, "expected a duration such as 500ms, 10s, 5m or 1h, got '" + v->Scalar() + "'");
    if (*d < min || *d > max) {
        fail(key, "must be between " + std::to_string(min.count()) + "ms and " +
                      std::to_string(max.count()) + "ms, got '" + v->Scalar() + "'");
    }
    return *d;
}

endpoint section::get_endpoint(std::string_view key, endpoint fallback) {
    auto v = scalar(key);
    if (!v) return fallback;
    auto e = parse_endpoint(v->Scalar());
    if (!e) fail(key, "expected HOST:PORT such as 127.0.0.1:8080, got '" + v->Scalar() + "'");
    return *e;
}

std::vector<std::string> section::get_string_list(std::string_view key,
                                                  std::vector<std::string> fallback) {
    known_.emplace(key);
    YAML::Node value = node_.IsMap() ? node_[std::string(key)] : YAML::Node();
    if (!value.IsDefined() || value.IsNull()) return fallback;
    if (!value.IsSequence()) fail(key, "expected a list of values");
    std::vector<std::string> out;
    for (const auto& item : value) {
        if (!item.IsScalar()) fail(key, "expected a list of single values");
        out.push_back(item.Scalar());
    }
    return out;
}

section section::child(std::string_view key) {
    known_.emplace(key);
    YAML::Node value = node_.IsMap() ? node_[std::string(key)] : YAML::Node();
    if (value.IsDefined() && !value.IsNull() && !value.IsMap()) fail(key, "expected a mapping");
    return section(value, file_, key_path(key));
}

void section::finish() const {
    if (!node_.IsMap()) return;
    for (const auto& entry : node_) {
        const std::string key = entry.first.as<std::string>();
        if (!known_.contains(key)) fail(key, "unknown key");
    }
}

section load_file(const std::string& path) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
        throw config_error(path + ": cannot read configuration file: no such file");
    }
    YAML::Node root;
    try {
        root = YAML::LoadFile(path);
    } catch (const YAML::Exception& e) {
        throw config_error(path + ": invalid YAML at line " + std::to_string(e.mark.line + 1) +
                           ": " + e.msg);
    }
    if (root.IsDefined() && !root.IsNull() && !root.IsMap()) {
        throw config_error(path + ": the top level must be a mapping of keys");
    }
    return section(root, path, "");
}

}  // namespace vpsfleet::config
