#pragma once
// The coordinator's handle on PostgreSQL: a connection pool plus the bounded worker threads that
// run every blocking libpqxx call, awaited from coroutines.
#include "common/offload.hpp"
#include "coordinator/config.hpp"
#include "coordinator/store/connection_pool.hpp"

#include <boost/asio/thread_pool.hpp>

namespace vpsfleet::store {

class database {
  public:
    explicit database(const coordinator::database_config& cfg);

    // Runs f(pqxx::connection&) on a worker thread with a leased connection.
    template <class F>
    auto run(F f) {
        return offload(workers_,
                       [this, f = std::move(f)]() mutable { return pool_.with_connection(f); });
    }

    connection_pool& pool() { return pool_; }
    // Waits for running calls to finish; later calls are not run.
    void stop();

  private:
    connection_pool pool_;
    boost::asio::thread_pool workers_;
};

// Adds connect_timeout to a libpq connection string unless it names one already.
std::string with_connect_timeout(const std::string& url, std::chrono::milliseconds timeout);

}  // namespace vpsfleet::store
