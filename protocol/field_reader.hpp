#pragma once
// Internal to protocol/: typed reads from one JSON object. The first failure is kept as
// "path: problem" and every later read returns a default, so a schema reads straight through and
// is checked once at the end.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vpsfleet::protocol::detail {

class field_reader {
  public:
    // `object` must be a JSON object; `failure` is shared by every reader of one message.
    field_reader(const nlohmann::json& object, std::string path, std::string& failure);

    std::string string(std::string_view key);
    std::optional<std::string> optional_string(std::string_view key);
    std::string choice(std::string_view key, std::span<const std::string_view> choices);
    bool boolean(std::string_view key);
    std::int64_t int64(std::string_view key);
    std::uint64_t uint64(std::string_view key);
    std::uint32_t uint32(std::string_view key);
    double number(std::string_view key);
    nlohmann::json object(std::string_view key);
    std::vector<std::string> strings(std::string_view key);
    std::vector<std::string> optional_strings(std::string_view key);

    // A reader for a nested object; after a failure it reads an empty object.
    field_reader child(std::string_view key);

    // Reads an array of objects, calling read(field_reader&) for each element.
    template <class Read>
    auto objects(std::string_view key, Read read) {
        using value_type = decltype(read(std::declval<field_reader&>()));
        std::vector<value_type> out;
        const nlohmann::json* array = find(key, true);
        if (!array) return out;
        if (!array->is_array()) {
            fail(key, "expected array");
            return out;
        }
        out.reserve(array->size());
        for (std::size_t i = 0; i < array->size() && !failed(); ++i) {
            const std::string element = std::string(key) + "[" + std::to_string(i) + "]";
            const nlohmann::json& item = (*array)[i];
            if (!item.is_object()) {
                fail(element, "expected object");
                break;
            }
            field_reader reader(item, path_of(element), failure_);
            out.push_back(read(reader));
        }
        return out;
    }

    bool has(std::string_view key) const;
    void fail(std::string_view key, std::string_view problem);
    bool failed() const { return !failure_.empty(); }

  private:
    // The value under key, or nullptr when absent (recorded as a failure when required) or after
    // an earlier failure.
    const nlohmann::json* find(std::string_view key, bool required);
    std::string path_of(std::string_view key) const;
    std::vector<std::string> string_array(const nlohmann::json& array, std::string_view key);

    const nlohmann::json& object_;
    std::string path_;
    std::string& failure_;
};

}  // namespace vpsfleet::protocol::detail
