#pragma once
// The running coordinator: REST listener, database, migrations and its own metrics. Later modules
// (fleet link, jobs, APIs) hang off this object.
#include "common/http_server.hpp"
#include "common/metrics.hpp"
#include "common/router.hpp"
#include "coordinator/config.hpp"
#include "coordinator/fleet/fleet_service.hpp"
#include "coordinator/store/database.hpp"

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <memory>

namespace vpsfleet::coordinator {

class service {
  public:
    service(boost::asio::io_context& io, coordinator_config cfg);
    ~service();

    // Binds the REST listener (logging the bound address) and starts migrating the database.
    void start();
    void stop();

  private:
    boost::asio::awaitable<void> migrate_until_done();
    boost::asio::awaitable<http::response> readyz();
    http::response metrics();
    void add_routes();

    boost::asio::io_context& io_;
    coordinator_config cfg_;
    store::database db_;
    prometheus::Registry registry_;
    metrics::http_metrics http_metrics_;
    prometheus::Family<prometheus::Gauge>& pool_gauges_;
    prometheus::Gauge& db_up_;
    http::router router_;
    std::shared_ptr<http::server> rest_;
    fleet::fleet_service fleet_;
    boost::asio::steady_timer retry_timer_;
    std::atomic<bool> migrated_{false};
    std::atomic<bool> stopping_{false};
};

}  // namespace vpsfleet::coordinator
