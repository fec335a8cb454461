#pragma once
// Strict wire codec for the fleet protocol: one JSON envelope per WebSocket text message, decoded
// into typed messages with errors that name the offending field, and encoded back.
#include "protocol/messages.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace vpsfleet::protocol {

inline constexpr std::size_t k_default_max_frame_bytes = 1024 * 1024;
// Deeper input is refused before parsing: copying, comparing and dumping JSON recurse.
inline constexpr int k_max_nesting_depth = 64;

enum class error_code {
    malformed_json,       // not JSON, not an object, nested too deep
    invalid_envelope,     // v, type, id, ref, ts or body missing or of the wrong type
    unsupported_version,  // v is an integer other than k_version
    unknown_type,
    invalid_body,     // the body does not match its type's schema
    frame_too_large,  // for the caller, who checks the size before decoding
};

// "malformed_json", "invalid_envelope", ...
std::string_view to_string(error_code code);

struct decode_failure {
    error_code code;
    std::string message;            // "body.facts.cpus: expected unsigned integer"
    std::optional<std::string> id;  // the envelope id when it could be read, so a reply can ref it
};

// Never throws (short of std::bad_alloc), whatever the input. Unknown fields are ignored; the
// size limit is the caller's to enforce.
std::variant<envelope, decode_failure> decode(std::string_view text);

// Writes `{"v":..,"type":..,"id":..,"ref":..,"ts":..,"body":{..}}`; type is type_of(e.body).
// Invalid UTF-8 in a string is replaced with U+FFFD rather than thrown on.
std::string encode(const envelope& e);

}  // namespace vpsfleet::protocol
