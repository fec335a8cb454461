// UTC formatting as logs, API fields, invoices and mail headers show it.
#include "common/utc_time.hpp"

#include <gtest/gtest.h>

using namespace std::chrono;
using vpsfleet::iso8601_utc;
using vpsfleet::utc_format;

namespace {

// 2026-11-24T04:30:05.042Z
system_clock::time_point sample() {
    return system_clock::time_point(seconds(1795494605) + milliseconds(42));
}

}  // namespace

TEST(utc_time, iso8601_with_and_without_milliseconds) {
    EXPECT_EQ(iso8601_utc(sample()), "2026-11-24T04:30:05Z");
    EXPECT_EQ(iso8601_utc(sample(), true), "2026-11-24T04:30:05.042Z");
    EXPECT_EQ(iso8601_utc(system_clock::time_point{}, true), "1970-01-01T00:00:00.000Z");
}

TEST(utc_time, times_before_1970_keep_second_and_fraction_together) {
    const auto t = system_clock::time_point{} - milliseconds(1);
    EXPECT_EQ(iso8601_utc(t, true), "1969-12-31T23:59:59.999Z");
    EXPECT_EQ(iso8601_utc(t), "1969-12-31T23:59:59Z");
}

TEST(utc_time, strftime_formats_and_fields) {
    EXPECT_EQ(utc_format(sample(), "%Y-%m-%d"), "2026-11-24");
    const std::tm tm = vpsfleet::utc_fields(sample());
    EXPECT_EQ(tm.tm_wday, 2);  // a Tuesday
    EXPECT_EQ(tm.tm_hour, 4);
}
