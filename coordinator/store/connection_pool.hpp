#pragma once
// A bounded pool of PostgreSQL connections for blocking use on worker threads. A connection that
// breaks (PostgreSQL restarted, network cut) is dropped and replaced on a later acquire, so the
// coordinator rides out a database restart without restarting itself.
#include <pqxx/pqxx>

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace vpsfleet::store {

struct pool_exhausted : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct pool_stats {
    std::size_t capacity = 0;
    std::size_t open = 0;     // connections that exist, idle or leased
    std::size_t in_use = 0;   // leased right now
    std::size_t waiting = 0;  // callers blocked in acquire
    std::uint64_t connect_failures = 0;
};

class connection_pool {
  public:
    connection_pool(std::string conninfo, std::size_t capacity,
                    std::chrono::milliseconds acquire_timeout);

    class lease {
      public:
        lease(connection_pool& pool, std::unique_ptr<pqxx::connection> conn);
        lease(lease&&) noexcept;
        lease& operator=(lease&&) = delete;
        ~lease();
        pqxx::connection& operator*() { return *conn_; }
        pqxx::connection* operator->() { return conn_.get(); }
        // Closes the connection instead of returning it to the pool.
        void discard() { conn_.reset(); }

      private:
        connection_pool* pool_;
        std::unique_ptr<pqxx::connection> conn_;
    };

    // Blocks up to the acquire timeout; throws pool_exhausted, or pqxx::broken_connection when a
    // new connection cannot be opened.
    lease acquire();

    // Runs f(connection&) on a leased connection; a connection that broke is not reused.
    template <class F>
    auto with_connection(F&& f) {
        lease l = acquire();
        try {
            return f(*l);
        } catch (...) {
            if (!l->is_open()) l.discard();
            throw;
        }
    }

    pool_stats stats() const;
    const std::string& conninfo() const { return conninfo_; }

  private:
    friend class lease;
    void release(std::unique_ptr<pqxx::connection> conn);

    const std::string conninfo_;
    const std::size_t capacity_;
    const std::chrono::milliseconds acquire_timeout_;
    mutable std::mutex mutex_;
    std::condition_variable available_;
    std::vector<std::unique_ptr<pqxx::connection>> idle_;
    std::size_t leased_ = 0;
    std::size_t waiting_ = 0;
    std::uint64_t connect_failures_ = 0;
};

}  // namespace vpsfleet::store
