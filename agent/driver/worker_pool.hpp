#pragma once
// Runs blocking driver calls on a bounded pool of threads, awaited from coroutines, so a slow
// hypervisor (a guest taking its time to shut down) never stalls the agent's I/O threads and one
// long operation does not hold up the others.
#include "agent/driver/driver.hpp"
#include "common/offload.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/asio/thread_pool.hpp>

#include <memory>
#include <optional>
#include <type_traits>

namespace vpsfleet::agent::driver {

class worker_pool {
  public:
    worker_pool(std::unique_ptr<hypervisor> d, std::size_t threads)
        : driver_(std::move(d)), own_(std::in_place, threads), pool_(&*own_) {}
    // Runs on `shared`, when given, instead of threads of its own (the fleet simulator's many
    // hosts in one process); `shared` must be stopped and joined before this pool is destroyed.
    worker_pool(std::unique_ptr<hypervisor> d, std::size_t threads,
                boost::asio::thread_pool* shared)
        : driver_(std::move(d)) {
        if (shared == nullptr) own_.emplace(threads);
        pool_ = shared != nullptr ? shared : &*own_;
    }
    ~worker_pool() {
        if (own_) {
            own_->stop();
            own_->join();
        }
    }
    worker_pool(const worker_pool&) = delete;
    worker_pool& operator=(const worker_pool&) = delete;

    hypervisor& get() { return *driver_; }

    // Runs work(hypervisor&) on a pool thread. `work` must be a named object that outlives the
    // co_await (see store::database::run for why).
    template <class F>
    boost::asio::awaitable<std::invoke_result_t<F&, hypervisor&>> run(F& work) {
        using value = std::invoke_result_t<F&, hypervisor&>;
        // Wrapped in an optional: offload needs a default-constructible result.
        auto job = [d = driver_.get(), work]() mutable { return std::optional<value>(work(*d)); };
        auto pending = offload(*pool_, std::move(job));
        auto out = co_await std::move(pending);
        co_return std::move(*out);
    }

  private:
    std::unique_ptr<hypervisor> driver_;
    std::optional<boost::asio::thread_pool> own_;
    boost::asio::thread_pool* pool_ = nullptr;
};

}  // namespace vpsfleet::agent::driver
