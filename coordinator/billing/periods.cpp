#include "coordinator/billing/periods.hpp"

#include <stdexcept>

namespace vpsfleet::billing {

namespace {

using namespace std::chrono;

time_point add_months(time_point from, int months) {
    const auto day = floor<days>(from);
    const auto time_of_day = from - day;
    const year_month_day ymd{day};
    const year_month target = year_month{ymd.year(), ymd.month()} + std::chrono::months{months};
    const auto last = year_month_day_last{target.year(), month_day_last{target.month()}}.day();
    const year_month_day landed{target.year(), target.month(), std::min(ymd.day(), last)};
    return sys_days{landed} + time_of_day;
}

}  // namespace

time_point add_interval(time_point from, const billing_interval& interval) {
    if (interval.amount <= 0) throw std::invalid_argument("a billing interval is at least 1");
    if (interval.type == "day") return from + days{interval.amount};
    if (interval.type == "month") return add_months(from, interval.amount);
    if (interval.type == "year") return add_months(from, 12 * interval.amount);
    throw std::invalid_argument("unknown billing interval type: " + interval.type);
}

std::int64_t prorata(std::int64_t paid, time_point period_start, time_point period_end,
                     time_point from) {
    if (paid <= 0 || period_end <= period_start || from >= period_end) return 0;
    if (from <= period_start) return paid;
    const auto whole = duration_cast<microseconds>(period_end - period_start).count();
    const auto left = duration_cast<microseconds>(period_end - from).count();
    return static_cast<std::int64_t>(static_cast<__int128>(paid) * left / whole);
}

std::int64_t epoch_micros(time_point t) {
    return duration_cast<microseconds>(t.time_since_epoch()).count();
}

time_point from_epoch_micros(std::int64_t us) { return time_point(microseconds(us)); }

std::string sql_time(int param) {
    return "('epoch'::timestamptz + $" + std::to_string(param) + " * interval '1 microsecond')";
}

std::string micros_of(const std::string& column) {
    return "(extract(epoch FROM " + column + ") * 1000000)::bigint";
}

}  // namespace vpsfleet::billing
