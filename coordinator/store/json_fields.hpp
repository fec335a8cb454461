#pragma once
// Nullable columns as JSON values: SQL NULL becomes JSON null.
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <cstdint>

namespace vpsfleet::store {

inline nlohmann::json text_or_null(const pqxx::field& f) {
    return f.is_null() ? nlohmann::json(nullptr) : nlohmann::json(f.c_str());
}

inline nlohmann::json int_or_null(const pqxx::field& f) {
    return f.is_null() ? nlohmann::json(nullptr) : nlohmann::json(f.as<std::int64_t>());
}

}  // namespace vpsfleet::store
