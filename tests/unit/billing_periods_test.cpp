// Calendar arithmetic of prepaid periods and the pro-rata share of a period, at month ends and
// leap days, to the minor unit.
#include "coordinator/billing/periods.hpp"

#include <gtest/gtest.h>

using namespace vpsfleet::billing;
using namespace std::chrono;

namespace {

vpsfleet::billing::time_point utc(int y, unsigned m, unsigned d, int h = 0, int min = 0) {
    return sys_days{year{y} / month{m} / day{d}} + hours{h} + minutes{min};
}

}  // namespace

TEST(billing_periods, months_clamp_to_the_last_day_and_keep_the_time_of_day) {
    EXPECT_EQ(add_interval(utc(2028, 1, 31, 13, 5), {1, "month"}), utc(2028, 2, 29, 13, 5));
    EXPECT_EQ(add_interval(utc(2027, 1, 31), {1, "month"}), utc(2027, 2, 28));
    EXPECT_EQ(add_interval(utc(2027, 3, 31), {1, "month"}), utc(2027, 4, 30));
    EXPECT_EQ(add_interval(utc(2027, 12, 15), {1, "month"}), utc(2028, 1, 15));
    EXPECT_EQ(add_interval(utc(2027, 11, 30), {3, "month"}), utc(2028, 2, 29));
    EXPECT_EQ(add_interval(utc(2028, 2, 29), {1, "year"}), utc(2029, 2, 28));
    EXPECT_EQ(add_interval(utc(2028, 2, 28), {7, "day"}), utc(2028, 3, 6));
    EXPECT_THROW(add_interval(utc(2028, 1, 1), {0, "month"}), std::invalid_argument);
    EXPECT_THROW(add_interval(utc(2028, 1, 1), {1, "week"}), std::invalid_argument);
}

TEST(billing_periods, prorata_rounds_down_and_stays_within_the_period) {
    const auto start = utc(2028, 2, 1);
    const auto end = utc(2028, 3, 1);  // 29 days
    EXPECT_EQ(prorata(2'900, start, end, utc(2028, 2, 15)), 1'500);
    EXPECT_EQ(prorata(1'000, start, end, utc(2028, 2, 15)), 517);  // 517.24...
    EXPECT_EQ(prorata(1'000, start, end, start - hours{1}), 1'000);
    EXPECT_EQ(prorata(1'000, start, end, end), 0);
    EXPECT_EQ(prorata(1'000, start, end, end + hours{1}), 0);
    EXPECT_EQ(prorata(0, start, end, utc(2028, 2, 15)), 0);
    // A large amount does not overflow: 10^12 minor units over a year, half left.
    EXPECT_EQ(prorata(1'000'000'000'000, utc(2027, 1, 1), utc(2028, 1, 1), utc(2027, 7, 2, 12)),
              500'000'000'000);
}
