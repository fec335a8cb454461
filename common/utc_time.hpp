#pragma once
// UTC calendar time for what the product writes out: logs, API fields, mail headers, invoices.
#include <chrono>
#include <ctime>
#include <string>

namespace vpsfleet {

// The calendar fields of `t` in UTC (whole seconds).
std::tm utc_fields(std::chrono::system_clock::time_point t);

// `t` in UTC through strftime, e.g. "%Y-%m-%d".
std::string utc_format(std::chrono::system_clock::time_point t, const char* format);

// "2026-11-24T04:30:00Z", or "2026-11-24T04:30:00.123Z" with milliseconds.
std::string iso8601_utc(std::chrono::system_clock::time_point t, bool with_milliseconds = false);

}  // namespace vpsfleet
