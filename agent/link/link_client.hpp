#pragma once
// The agent's end of the fleet link: dials wss://COORDINATOR/fleet/v1 with the enrolled client
// certificate, says hello with the host's facts and inventory, sends heartbeats, renews its
// certificate at about two thirds of its lifetime, and redials with jittered exponential backoff
// whenever the link drops.
#include "agent/collector/host_collector.hpp"
#include "agent/config.hpp"
#include "agent/link/command_journal.hpp"
#include "agent/link/credentials.hpp"
#include "protocol/codec.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <memory>
#include <random>
#include <set>

namespace vpsfleet::agent::link {

class link_client : public std::enable_shared_from_this<link_client> {
  public:
    link_client(boost::asio::io_context& io, const agent_config& cfg, host_collector& collector,
                prometheus::Registry& registry);

    void start();
    void stop();

  private:
    struct connection;
    boost::asio::awaitable<void> run();
    boost::asio::awaitable<void> serve(const credentials& creds);
    boost::asio::awaitable<void> write_loop(std::shared_ptr<connection> conn);
    boost::asio::awaitable<void> heartbeat_loop(std::shared_ptr<connection> conn);
    void handle(const std::shared_ptr<connection>& conn, const protocol::envelope& env);
    boost::asio::awaitable<void> execute(std::shared_ptr<connection> conn, protocol::command cmd,
                                         std::string ref);
    void send(connection& conn, protocol::message body,
              std::optional<std::string> ref = std::nullopt);
    void maybe_renew(connection& conn);
    std::chrono::milliseconds next_backoff();

    boost::asio::io_context& io_;
    const agent_config& cfg_;
    host_collector& collector_;
    boost::asio::strand<boost::asio::io_context::executor_type> strand_;
    boost::asio::steady_timer backoff_timer_;
    std::shared_ptr<connection> current_;  // on the strand
    std::atomic<bool> stopping_{false};
    std::chrono::milliseconds backoff_{0};
    std::mt19937_64 random_{std::random_device{}()};
    std::unique_ptr<command_journal> journal_;  // on the strand
    std::set<std::string> running_;             // command ids being executed, on the strand
    // The TLS context built from the credentials last dialled with (tls_identity_: their PEMs),
    // reused by the next connection while they stay the same; on the strand.
    std::shared_ptr<boost::asio::ssl::context> tls_;
    std::string tls_identity_;
    std::chrono::system_clock::time_point tls_renew_at_;

    prometheus::Gauge& connected_;
    prometheus::Family<prometheus::Counter>& attempts_;
    prometheus::Family<prometheus::Counter>& messages_;
    prometheus::Gauge& queue_depth_;
    prometheus::Family<prometheus::Counter>& commands_;
};

}  // namespace vpsfleet::agent::link
