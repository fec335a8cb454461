#include "protocol/codec.hpp"

#include "protocol/bodies.hpp"
#include "protocol/field_reader.hpp"

#include <limits>
#include <utility>

namespace vpsfleet::protocol {
namespace {

using nlohmann::json;

// Counts brackets outside strings. Only valid JSON gets past the parser, and for valid JSON this
// count is exact; it runs first so a hostile frame never reaches the recursive code.
bool nesting_within(std::string_view text, int max_depth) {
    int depth = 0;
    bool in_string = false;
    bool escaped = false;
    for (char c : text) {
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
            continue;
        }
        if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth) return false;
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return true;
}

// Peer-supplied text quoted in an error message is cut short, on a UTF-8 character boundary.
std::string excerpt(std::string_view text) {
    constexpr std::size_t max = 64;
    if (text.size() <= max) return std::string(text);
    std::size_t end = max;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) --end;
    return std::string(text.substr(0, end)) + "...";
}

std::string dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

template <std::size_t I = 0>
bool known_type(std::string_view type) {
    if constexpr (I < std::variant_size_v<message>) {
        return type == std::variant_alternative_t<I, message>::k_type || known_type<I + 1>(type);
    } else {
        return false;
    }
}

template <std::size_t I = 0>
void read_body(std::string_view type, detail::field_reader& reader, message& out) {
    if constexpr (I < std::variant_size_v<message>) {
        using body_type = std::variant_alternative_t<I, message>;
        if (type != body_type::k_type) return read_body<I + 1>(type, reader, out);
        body_type body;
        detail::read(reader, body);
        out = std::move(body);
    }
}

decode_failure failure(error_code code, std::string message, std::optional<std::string> id) {
    return decode_failure{code, std::move(message), std::move(id)};
}

}  // namespace

std::string_view to_string(error_code code) {
    switch (code) {
        case error_code::malformed_json:
            return "malformed_json";
        case error_code::invalid_envelope:
            return "invalid_envelope";
        case error_code::unsupported_version:
            return "unsupported_version";
        case error_code::unknown_type:
            return "unknown_type";
        case error_code::invalid_body:
            return "invalid_body";
        case error_code::frame_too_large:
            return "frame_too_large";
    }
    return "unknown";
}

std::variant<envelope, decode_failure> decode(std::string_view text) {
    if (!nesting_within(text, k_max_nesting_depth)) {
        return failure(error_code::malformed_json,
                       "nested deeper than " + std::to_string(k_max_nesting_depth) + " levels",
                       std::nullopt);
    }
    const json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return failure(error_code::malformed_json, "not valid JSON", {});
    if (!doc.is_object()) return failure(error_code::malformed_json, "not a JSON object", {});

    std::optional<std::string> id;
    if (auto it = doc.find("id"); it != doc.end() && it->is_string()) id = it->get<std::string>();
    auto invalid = [&](std::string message) {
        return failure(error_code::invalid_envelope, std::move(message), id);
    };

    const auto v = doc.find("v");
    if (v == doc.end()) return invalid("v: required");
    if (!v->is_number_integer()) return invalid("v: expected integer");
    const bool supported = v->is_number_unsigned()
                               ? v->get<std::uint64_t>() == static_cast<std::uint64_t>(k_version)
                               : v->get<std::int64_t>() == k_version;
    if (!supported) {
        return failure(error_code::unsupported_version,
                       "v: unsupported version " + v->dump() + ", this build speaks " +
                           std::to_string(k_version),
                       id);
    }

    const auto type = doc.find("type");
    if (type == doc.end()) return invalid("type: required");
    if (!type->is_string()) return invalid("type: expected string");
    if (!doc.contains("id")) return invalid("id: required");
    if (!id) return invalid("id: expected string");
    const auto ref = doc.find("ref");
    if (ref != doc.end() && !ref->is_string()) return invalid("ref: expected string");
    const auto ts = doc.find("ts");
    if (ts == doc.end()) return invalid("ts: required");
    if (!ts->is_number_integer()) return invalid("ts: expected integer");
    if (ts->is_number_unsigned() &&
        ts->get<std::uint64_t>() >
            static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return invalid("ts: out of range for a 64-bit integer");
    }
    const auto body = doc.find("body");
    if (body == doc.end()) return invalid("body: required");
    if (!body->is_object()) return invalid("body: expected object");

    const auto& type_name = type->get_ref<const std::string&>();
    if (!known_type(type_name)) {
        return failure(error_code::unknown_type,
                       "type: unknown message type '" + excerpt(type_name) + "'", id);
    }

    envelope out;
    out.v = k_version;
    out.type = type_name;
    out.id = *id;
    if (ref != doc.end()) out.ref = ref->get<std::string>();
    out.ts = ts->get<std::int64_t>();
    std::string problem;
    detail::field_reader reader(*body, "body", problem);
    read_body(type_name, reader, out.body);
    if (!problem.empty()) return failure(error_code::invalid_body, std::move(problem), id);
    return out;
}

std::string encode(const envelope& e) {
    const json body = std::visit([](const auto& m) { return detail::write(m); }, e.body);
    // Written by hand so the envelope keys keep the documented order; nlohmann sorts them.
    std::string out = "{\"v\":" + std::to_string(e.v) + ",\"type\":" + dump(type_of(e.body)) +
                      ",\"id\":" + dump(e.id);
    if (e.ref) out += ",\"ref\":" + dump(*e.ref);
    out += ",\"ts\":" + std::to_string(e.ts) + ",\"body\":" + dump(body) + "}";
    return out;
}

}  // namespace vpsfleet::protocol
