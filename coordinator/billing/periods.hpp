#pragma once
// Calendar arithmetic for prepaid periods, in UTC, and the pro-rata share of a paid period.
// A month added to the 31st lands on the last day of a shorter month (Jan 31 + 1 month = Feb 28,
// or Feb 29 in a leap year), as PostgreSQL and most billing systems do; the time of day is kept.
#include <chrono>
#include <cstdint>
#include <string>

namespace vpsfleet::billing {

using time_point = std::chrono::system_clock::time_point;

struct billing_interval {
    int amount = 1;
    std::string type = "month";  // day, month, year
};

time_point add_interval(time_point from, const billing_interval& interval);

// The part of `paid` (minor units, for [period_start, period_end)) that covers [from,
// period_end), rounded down so a refund never exceeds what was paid. 0 when `from` is at or past
// the end; all of it when `from` is at or before the start.
std::int64_t prorata(std::int64_t paid, time_point period_start, time_point period_end,
                     time_point from);

// Timestamps cross into SQL as integer microseconds since the epoch, so nothing is rounded:
// epoch_micros(t) is the parameter, sql_time(n) the SQL reading parameter $n back as a
// timestamptz, and micros_of(column) the SQL turning a timestamptz column into the integer.
std::int64_t epoch_micros(time_point t);
time_point from_epoch_micros(std::int64_t us);
std::string sql_time(int param);
std::string micros_of(const std::string& column);

}  // namespace vpsfleet::billing
