#include "coordinator/config.hpp"

namespace vpsfleet::coordinator {

using namespace std::chrono_literals;

coordinator_config load_config(const std::string& path) {
    coordinator_config cfg;
    config::section root = config::load_file(path);

    config::section log_section = root.child("log");
    cfg.log_level = *log::parse_level(
        log_section.get_choice("level", "info", {"debug", "info", "warn", "error"}));
    log_section.finish();

    cfg.io_threads = static_cast<unsigned>(root.get_int("io_threads", cfg.io_threads, 1, 64));

    config::section http = root.child("http");
    cfg.http.listen = http.get_endpoint("listen", cfg.http.listen);
    cfg.http.body_limit = static_cast<std::size_t>(
        http.get_int("body_limit_bytes", static_cast<std::int64_t>(cfg.http.body_limit), 1024,
                     256 * 1024 * 1024));
    cfg.http.read_timeout = http.get_duration("read_timeout", cfg.http.read_timeout, 100ms, 10min);
    cfg.http.idle_timeout = http.get_duration("idle_timeout", cfg.http.idle_timeout, 100ms, 1h);
    http.finish();

    config::section db = root.child("database");
    auto url = db.get_optional_string("url");
    if (!url || url->empty()) db.fail("url", "required: the PostgreSQL connection string");
    cfg.database.url = *url;
    cfg.database.pool_size = static_cast<std::size_t>(db.get_int("pool_size", 8, 1, 512));
    cfg.database.connect_timeout =
        db.get_duration("connect_timeout", cfg.database.connect_timeout, 1s, 5min);
    cfg.database.acquire_timeout =
        db.get_duration("acquire_timeout", cfg.database.acquire_timeout, 10ms, 5min);
    db.finish();

    root.finish();
    return cfg;
}

}  // namespace vpsfleet::coordinator
