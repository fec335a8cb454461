#include "coordinator/api/rate_limiter.hpp"

#include <algorithm>

namespace vpsfleet::api {

rate_limiter::decision rate_limiter::take(const std::string& bucket, std::int64_t limit,
                                          std::chrono::system_clock::time_point now) {
    const auto now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    const auto window_ms = window_.count();
    const auto start = now_ms - now_ms % window_ms;
    const auto end_ms = start + window_ms;

    std::lock_guard lock(mutex_);
    // Old windows are dropped wholesale once the map grows, so memory stays bounded by the number
    // of callers active within one window.
    if (buckets_.size() > 100'000) {
        std::erase_if(buckets_,
                      [start](const auto& kv) { return kv.second.window_start_ms < start; });
    }
    auto& w = buckets_[bucket];
    if (w.window_start_ms != start) w = {start, 0};
    decision d;
    d.limit = limit;
    d.reset_unix = (end_ms + 999) / 1000;
    if (w.count >= limit) {
        d.allowed = false;
        d.remaining = 0;
        d.retry_after = std::max<std::int64_t>(1, (end_ms - now_ms + 999) / 1000);
        return d;
    }
    ++w.count;
    d.remaining = limit - w.count;
    return d;
}

}  // namespace vpsfleet::api
