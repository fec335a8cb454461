#pragma once
// Strict YAML configuration reading: every key is checked, and any unknown key, wrong type or bad
// value becomes a config_error naming the file and the full key path. Both daemons use it.
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace vpsfleet::config {

struct config_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// host:port as written in a config file; port 0 means "pick a free port".
struct endpoint {
    std::string host;
    std::uint16_t port = 0;
    std::string to_string() const;
};

std::optional<endpoint> parse_endpoint(std::string_view text);
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

// One mapping in the file. Reading a key marks it known; finish() rejects the rest.
class section {
  public:
    section(YAML::Node node, std::string file, std::string path);

    std::string get_string(std::string_view key, std::string fallback);
    std::optional<std::string> get_optional_string(std::string_view key);
    std::string get_choice(std::string_view key, std::string fallback,
                           std::initializer_list<std::string_view> choices);
    std::int64_t get_int(std::string_view key, std::int64_t fallback, std::int64_t min,
                         std::int64_t max);
    bool get_bool(std::string_view key, bool fallback);
    std::chrono::milliseconds get_duration(std::string_view key, std::chrono::milliseconds fallback,
                                           std::chrono::milliseconds min,
                                           std::chrono::milliseconds max);
    endpoint get_endpoint(std::string_view key, endpoint fallback);
    // A YAML list of strings; a single string is not accepted in its place.
    std::vector<std::string> get_string_list(std::string_view key,
                                             std::vector<std::string> fallback);
    section child(std::string_view key);

    // Throws on the first key of this mapping that no getter asked for.
    void finish() const;

    [[noreturn]] void fail(std::string_view key, std::string_view message) const;

  private:
    std::optional<YAML::Node> scalar(std::string_view key);
    std::string key_path(std::string_view key) const;

    YAML::Node node_;
    std::string file_;
    std::string path_;
    std::set<std::string, std::less<>> known_;
};

// Loads a file and returns its top-level mapping; a missing, unreadable or malformed file throws.
section load_file(const std::string& path);

}  // namespace vpsfleet::config
