#pragma once
// Runs a blocking call (libpqxx, libvirt) on a bounded thread pool and resumes the awaiting
// coroutine on its own executor, so I/O threads never block. Exceptions travel back to the caller.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <type_traits>
#include <utility>

namespace vpsfleet {

template <class F>
auto offload(boost::asio::thread_pool& pool, F f)
    -> boost::asio::awaitable<std::invoke_result_t<F>> {
    using result = std::invoke_result_t<F>;
    co_return co_await boost::asio::co_spawn(
        pool.get_executor(),
        [f = std::move(f)]() mutable -> boost::asio::awaitable<result> {
            if constexpr (std::is_void_v<result>) {
                f();
                co_return;
            } else {
                co_return f();
            }
        },
        boost::asio::use_awaitable);
}

}  // namespace vpsfleet
