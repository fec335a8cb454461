#pragma once
// Fixed-window request counting per caller (API key, user or address), in memory. Each window
// starts on a multiple of its length, so X-RateLimit-Reset is the same instant for every client
// of a bucket and Retry-After is exact.
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace vpsfleet::api {

class rate_limiter {
  public:
    explicit rate_limiter(std::chrono::milliseconds window) : window_(window) {}

    struct decision {
        bool allowed = true;
        std::int64_t limit = 0;
        std::int64_t remaining = 0;
        std::int64_t reset_unix = 0;   // when the window ends, Unix seconds
        std::int64_t retry_after = 0;  // seconds, when refused
    };

    decision take(const std::string& bucket, std::int64_t limit,
                  std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

  private:
    struct window_count {
        std::int64_t window_start_ms = 0;
        std::int64_t count = 0;
    };

    std::chrono::milliseconds window_;
    std::mutex mutex_;
    std::unordered_map<std::string, window_count> buckets_;
};

}  // namespace vpsfleet::api
