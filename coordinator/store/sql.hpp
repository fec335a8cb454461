#pragma once
// SQL fragments both APIs share.
#include <string>
#include <string_view>

namespace vpsfleet::store {

// A timestamptz column as ISO 8601 UTC with milliseconds ("2026-06-20T09:14:02.000Z").
inline std::string iso8601(std::string_view column) {
    return "to_char(" + std::string(column) +
           " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";
}

}  // namespace vpsfleet::store
