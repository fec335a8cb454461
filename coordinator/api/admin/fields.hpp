#pragma once
// Strict readers for the admin routes' bodies, queries and rows beyond api/body.hpp: enumerated
// values, bounded strings, ISO 8601 times, numeric query filters. Each refuses bad input with a
// 400 naming the field.
#include "common/http_server.hpp"
#include "coordinator/store/json_fields.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

namespace vpsfleet::api::admin {

std::optional<std::string> one_of(const nlohmann::json& body, const std::string& field,
                                  std::initializer_list<std::string_view> allowed);
// A string of min..max characters.
std::optional<std::string> bounded_string(const nlohmann::json& body, const std::string& field,
                                          std::size_t min, std::size_t max);
// An integer in [min, max].
std::optional<std::int64_t> int_in(const nlohmann::json& body, const std::string& field,
                                   std::int64_t min, std::int64_t max);
// "2024-04-25", "2024-04-25T10:00:00", "…Z", "…+02:00" (fractions allowed); a time without a
// zone is UTC. The result is a timestamptz literal PostgreSQL reads the same way.
std::optional<std::string> iso8601_field(const nlohmann::json& body, const std::string& field);

// ?name=<integer>, or 400.
std::optional<std::int64_t> query_id(const http::request& req, std::string_view name);
// ?name=true|false (also 1|0), or 400.
std::optional<bool> query_bool(const http::request& req, std::string_view name);

bool is_hex64(std::string_view s);

using store::int_or_null;
using store::text_or_null;

}  // namespace vpsfleet::api::admin
