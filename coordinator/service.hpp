#pragma once
// The running coordinator: REST listener, database, migrations and its own metrics. Later modules
// (fleet link, jobs, APIs) hang off this object.
#include "common/http_server.hpp"
#include "common/metrics.hpp"
#include "common/router.hpp"
#include "coordinator/api/gateway.hpp"
#include "coordinator/api/services.hpp"
#include "coordinator/auth/key_ring.hpp"
#include "coordinator/config.hpp"
#include "coordinator/fleet/fleet_service.hpp"
#include "coordinator/instances/expiry_runner.hpp"
#include "coordinator/jobs/job_runner.hpp"
#include "coordinator/jobs/job_watch.hpp"
#include "coordinator/mail/mail_sender.hpp"
#include "coordinator/store/database.hpp"

#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace vpsfleet::coordinator {

class service {
  public:
    service(boost::asio::io_context& io, coordinator_config cfg);
    ~service();

    // Binds the REST listener (logging the bound address) and starts migrating the database.
    void start();
    void stop();
    // Listeners bound (by start) and the schema migrated: what systemd's READY=1 waits for.
    bool ready() const { return migrated_; }

  private:
    boost::asio::awaitable<void> migrate_until_done();
    struct database_probe {
        std::optional<int> applied;  // migrations applied; empty when the database is unreachable
        std::string error;
    };
    // Also sets vpsfleet_coordinator_db_up.
    boost::asio::awaitable<database_probe> probe_database();
    boost::asio::awaitable<http::response> readyz();
    boost::asio::awaitable<http::response> metrics();
    void add_routes();
    void add_job_handlers();

    boost::asio::io_context& io_;
    coordinator_config cfg_;
    store::database db_;
    prometheus::Registry registry_;
    metrics::http_metrics http_metrics_;
    prometheus::Family<prometheus::Gauge>& pool_gauges_;
    prometheus::Gauge& db_up_;
    prometheus::Counter& db_connect_failures_;
    prometheus::Family<prometheus::Counter>& jobs_finished_;
    std::mutex scrape_mutex_;  // scrapes on two I/O threads must not both catch the counter up
    auth::key_ring keys_;
    api::services api_services_;
    api::gateway gateway_;
    std::shared_ptr<http::server> rest_;
    fleet::fleet_service fleet_;
    // Before the jobs and the sweep that call it, so it outlives them.
    std::unique_ptr<billing::payment_provider> payments_;  // null without billing.stripe
    std::unique_ptr<jobs::job_runner> jobs_;               // started once the schema is ready
    std::unique_ptr<jobs::job_watch> job_watch_;           // for the job feedback WebSocket
    std::unique_ptr<mail::mail_sender> mail_;              // null when mail is not configured
    std::unique_ptr<instances::expiry_runner> expiry_;     // the billing sweep
    boost::asio::steady_timer retry_timer_;
    std::atomic<bool> migrated_{false};
    std::atomic<bool> stopping_{false};
};

}  // namespace vpsfleet::coordinator
