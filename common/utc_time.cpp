#include "common/utc_time.hpp"

#include <cstdio>

namespace vpsfleet {

std::tm utc_fields(std::chrono::system_clock::time_point t) {
    const std::time_t secs =
        std::chrono::system_clock::to_time_t(std::chrono::floor<std::chrono::seconds>(t));
    std::tm tm{};
    gmtime_r(&secs, &tm);
    return tm;
}

std::string utc_format(std::chrono::system_clock::time_point t, const char* format) {
    const std::tm tm = utc_fields(t);
    char buf[64];
    const std::size_t n = std::strftime(buf, sizeof buf, format, &tm);
    return std::string(buf, n);
}

std::string iso8601_utc(std::chrono::system_clock::time_point t, bool with_milliseconds) {
    if (!with_milliseconds) return utc_format(t, "%Y-%m-%dT%H:%M:%SZ");
    using namespace std::chrono;
    // Floor, so that the seconds and the fraction come from the same instant before 1970 too.
    const auto whole = floor<seconds>(t);
    const auto ms = duration_cast<milliseconds>(t - whole).count();
    char fraction[8];
    std::snprintf(fraction, sizeof fraction, ".%03dZ", static_cast<int>(ms));
    return utc_format(whole, "%Y-%m-%dT%H:%M:%S") + fraction;
}

}  // namespace vpsfleet
