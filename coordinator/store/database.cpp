#include "coordinator/store/database.hpp"

namespace vpsfleet::store {

std::string with_connect_timeout(const std::string& url, std::chrono::milliseconds timeout) {
    if (url.find("connect_timeout") != std::string::npos) return url;
    const auto seconds = std::to_string(std::max<long long>(1, timeout.count() / 1000));
    const bool is_uri = url.starts_with("postgres://") || url.starts_with("postgresql://");
    if (!is_uri) return url + " connect_timeout=" + seconds;
    return url + (url.find('?') == std::string::npos ? "?" : "&") + "connect_timeout=" + seconds;
}

database::database(const coordinator::database_config& cfg)
    : pool_(with_connect_timeout(cfg.url, cfg.connect_timeout), cfg.pool_size, cfg.acquire_timeout),
      workers_(cfg.pool_size) {}

void database::stop() {
    workers_.stop();
    workers_.join();
}

}  // namespace vpsfleet::store
