#include "coordinator/store/connection_pool.hpp"

namespace vpsfleet::store {

connection_pool::connection_pool(std::string conninfo, std::size_t capacity,
                                 std::chrono::milliseconds acquire_timeout)
    : conninfo_(std::move(conninfo)), capacity_(capacity), acquire_timeout_(acquire_timeout) {}

connection_pool::lease::lease(connection_pool& pool, std::unique_ptr<pqxx::connection> conn)
    : pool_(&pool), conn_(std::move(conn)) {}

connection_pool::lease::lease(lease&& other) noexcept
    : pool_(other.pool_), conn_(std::move(other.conn_)) {
    other.pool_ = nullptr;
}

connection_pool::lease::~lease() {
    if (pool_ != nullptr) pool_->release(std::move(conn_));
}

connection_pool::lease connection_pool::acquire() {
    std::unique_lock lock(mutex_);
    ++waiting_;
    const bool got_slot = available_.wait_for(
        lock, acquire_timeout_, [&] { return !idle_.empty() || leased_ < capacity_; });
    --waiting_;
    if (!got_slot) {
        throw pool_exhausted("no database connection free within " +
                             std::to_string(acquire_timeout_.count()) + " ms");
    }
    ++leased_;
    while (!idle_.empty()) {
        auto conn = std::move(idle_.back());
        idle_.pop_back();
        if (conn->is_open()) return lease(*this, std::move(conn));
    }
    lock.unlock();
    try {
        return lease(*this, std::make_unique<pqxx::connection>(conninfo_));
    } catch (...) {
        lock.lock();
        --leased_;
        ++connect_failures_;
        lock.unlock();
        available_.notify_one();
        throw;
    }
}

void connection_pool::release(std::unique_ptr<pqxx::connection> conn) {
    {
        std::lock_guard lock(mutex_);
        --leased_;
        if (conn && conn->is_open()) idle_.push_back(std::move(conn));
    }
    available_.notify_one();
}

pool_stats connection_pool::stats() const {
    std::lock_guard lock(mutex_);
    return pool_stats{capacity_, idle_.size() + leased_, leased_, waiting_, connect_failures_};
}

}  // namespace vpsfleet::store
