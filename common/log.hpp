#pragma once
// Structured logging: one JSON object per line on stderr, so journald, Loki or jq read it as is.
#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace vpsfleet::log {

enum class level { debug = 0, info = 1, warn = 2, error = 3 };

std::optional<level> parse_level(std::string_view name);
std::string_view level_name(level l);

void set_level(level l);
void set_component(std::string component);
bool enabled(level l);

// Writes {"ts":..., "level":..., "component":..., "msg":..., <fields>} as one line.
void write(level l, std::string_view msg, const nlohmann::json& fields = nlohmann::json::object());

inline void debug(std::string_view msg, const nlohmann::json& f = nlohmann::json::object()) {
    if (enabled(level::debug)) write(level::debug, msg, f);
}
inline void info(std::string_view msg, const nlohmann::json& f = nlohmann::json::object()) {
    if (enabled(level::info)) write(level::info, msg, f);
}
inline void warn(std::string_view msg, const nlohmann::json& f = nlohmann::json::object()) {
    if (enabled(level::warn)) write(level::warn, msg, f);
}
inline void error(std::string_view msg, const nlohmann::json& f = nlohmann::json::object()) {
    if (enabled(level::error)) write(level::error, msg, f);
}

}  // namespace vpsfleet::log
