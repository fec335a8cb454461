#include "common/log.hpp"

#include "common/utc_time.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace vpsfleet::log {
namespace {

std::atomic<int> g_level{static_cast<int>(level::info)};
std::mutex g_mutex;
std::string g_component = "vpsfleet";

std::string utc_timestamp() { return iso8601_utc(std::chrono::system_clock::now(), true); }

}  // namespace

std::optional<level> parse_level(std::string_view name) {
    if (name == "debug") return level::debug;
    if (name == "info") return level::info;
    if (name == "warn") return level::warn;
    if (name == "error") return level::error;
    return std::nullopt;
}

std::string_view level_name(level l) {
    switch (l) {
        case level::debug:
            return "debug";
        case level::info:
            return "info";
        case level::warn:
            return "warn";
        case level::error:
            return "error";
    }
    return "info";
}

void set_level(level l) { g_level.store(static_cast<int>(l)); }

void set_component(std::string component) {
    std::lock_guard lock(g_mutex);
    g_component = std::move(component);
}

bool enabled(level l) { return static_cast<int>(l) >= g_level.load(std::memory_order_relaxed); }

void write(level l, std::string_view msg, const nlohmann::json& fields) {
    nlohmann::ordered_json line;
    line["ts"] = utc_timestamp();
    line["level"] = level_name(l);
    std::lock_guard lock(g_mutex);
    line["component"] = g_component;
    line["msg"] = msg;
    if (fields.is_object()) {
        for (const auto& [key, value] : fields.items()) line[key] = value;
    }
    const std::string text =
        line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
    std::fwrite(text.data(), 1, text.size(), stderr);
    std::fflush(stderr);
}

}  // namespace vpsfleet::log
