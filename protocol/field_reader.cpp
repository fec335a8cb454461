#include "protocol/field_reader.hpp"

#include <limits>

namespace vpsfleet::protocol::detail {
namespace {

const nlohmann::json& empty_object() {
    static const nlohmann::json empty = nlohmann::json::object();
    return empty;
}

}  // namespace

field_reader::field_reader(const nlohmann::json& object, std::string path, std::string& failure)
    : object_(object.is_object() ? object : empty_object()),
      path_(std::move(path)),
      failure_(failure) {}

std::string field_reader::path_of(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

void field_reader::fail(std::string_view key, std::string_view problem) {
    if (failed()) return;
    failure_ = path_of(key) + ": " + std::string(problem);
}

bool field_reader::has(std::string_view key) const { return object_.contains(key); }

const nlohmann::json* field_reader::find(std::string_view key, bool required) {
    if (failed()) return nullptr;
    auto it = object_.find(key);
    if (it == object_.end()) {
        if (required) fail(key, "required");
        return nullptr;
    }
    return &*it;
}

std::string field_reader::string(std::string_view key) {
    const auto* v = find(key, true);
    if (!v) return {};
    if (!v->is_string()) {
        fail(key, "expected string");
        return {};
    }
    return v->get<std::string>();
}

std::optional<std::string> field_reader::optional_string(std::string_view key) {
    const auto* v = find(key, false);
    if (!v) return std::nullopt;
    if (!v->is_string()) {
        fail(key, "expected string");
        return std::nullopt;
    }
    return v->get<std::string>();
}

std::string field_reader::choice(std::string_view key, std::span<const std::string_view> choices) {
    std::string value = string(key);
    if (failed()) return {};
    std::string listed;
    for (auto c : choices) {
        if (c == value) return value;
        listed += listed.empty() ? "" : ", ";
        listed += c;
    }
    fail(key, "expected one of " + listed);
    return {};
}

bool field_reader::boolean(std::string_view key) {
    const auto* v = find(key, true);
    if (!v) return false;
    if (!v->is_boolean()) {
        fail(key, "expected boolean");
        return false;
    }
    return v->get<bool>();
}

std::int64_t field_reader::int64(std::string_view key) {
    const auto* v = find(key, true);
    if (!v) return 0;
    // nlohmann keeps every non-negative integer as unsigned, so the range check is ours.
    if (v->is_number_unsigned()) {
        const auto n = v->get<std::uint64_t>();
        if (n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            fail(key, "out of range for a 64-bit integer");
            return 0;
        }
        return static_cast<std::int64_t>(n);
    }
    if (v->is_number_integer()) return v->get<std::int64_t>();
    fail(key, "expected integer");
    return 0;
}

std::uint64_t field_reader::uint64(std::string_view key) {
    const auto* v = find(key, true);
    if (!v) return 0;
    if (v->is_number_unsigned()) return v->get<std::uint64_t>();
    if (v->is_number_integer() && v->get<std::int64_t>() >= 0) {
        return static_cast<std::uint64_t>(v->get<std::int64_t>());
    }
    fail(key, "expected unsigned integer");
    return 0;
}

std::uint32_t field_reader::uint32(std::string_view key) {
    const std::uint64_t n = uint64(key);
    if (n > std::numeric_limits<std::uint32_t>::max()) {
        fail(key, "out of range for a 32-bit unsigned integer");
        return 0;
    }
    return static_cast<std::uint32_t>(n);
}

double field_reader::number(std::string_view key) {
    const auto* v = find(key, true);
    if (!v) return 0;
    if (!v->is_number()) {
        fail(key, "expected number");
        return 0;
    }
    return v->get<double>();
}

nlohmann::json field_reader::object(std::string_view key) {
    const auto* v = find(key, true);
    if (!v) return nlohmann::json::object();
    if (!v->is_object()) {
        fail(key, "expected object");
        return nlohmann::json::object();
    }
    return *v;
}

std::vector<std::string> field_reader::string_array(const nlohmann::json& array,
                                                    std::string_view key) {
    std::vector<std::string> out;
    if (!array.is_array()) {
        fail(key, "expected array");
        return out;
    }
    out.reserve(array.size());
    for (std::size_t i = 0; i < array.size(); ++i) {
        if (!array[i].is_string()) {
            fail(std::string(key) + "[" + std::to_string(i) + "]", "expected string");
            return {};
        }
        out.push_back(array[i].get<std::string>());
    }
    return out;
}

std::vector<std::string> field_reader::strings(std::string_view key) {
    const auto* v = find(key, true);
    return v ? string_array(*v, key) : std::vector<std::string>{};
}

std::vector<std::string> field_reader::optional_strings(std::string_view key) {
    const auto* v = find(key, false);
    return v ? string_array(*v, key) : std::vector<std::string>{};
}

field_reader field_reader::child(std::string_view key) {
    const auto* v = find(key, true);
    if (v && !v->is_object()) fail(key, "expected object");
    const bool usable = v && v->is_object();
    return field_reader(usable ? *v : empty_object(), path_of(key), failure_);
}

}  // namespace vpsfleet::protocol::detail
