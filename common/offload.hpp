#pragma once
// Runs a blocking call (libpqxx, libvirt) on a bounded thread pool and resumes the awaiting
// coroutine on its own executor, so I/O threads never block. Exceptions travel back to the caller.
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <exception>
#include <type_traits>
#include <utility>

namespace vpsfleet {

namespace detail {

template <class F>
struct offload_initiation {
    boost::asio::thread_pool* pool;
    F f;

    template <class Handler>
    void operator()(Handler handler) {
        using result = std::invoke_result_t<F&>;
        boost::asio::post(*pool, [f = std::move(f), handler = std::move(handler)]() mutable {
            std::exception_ptr error;
            auto resume_on = boost::asio::get_associated_executor(handler);
            if constexpr (std::is_void_v<result>) {
                try {
                    f();
                } catch (...) {
                    error = std::current_exception();
                }
                boost::asio::post(resume_on, [handler = std::move(handler), error]() mutable {
                    std::move(handler)(error);
                });
            } else {
                result value{};
                try {
                    value = f();
                } catch (...) {
                    error = std::current_exception();
                }
                boost::asio::post(resume_on, [handler = std::move(handler), error,
                                              value = std::move(value)]() mutable {
                    std::move(handler)(error, std::move(value));
                });
            }
        });
    }
};

template <class R>
struct offload_signature {
    using type = void(std::exception_ptr, R);
};
template <>
struct offload_signature<void> {
    using type = void(std::exception_ptr);
};

}  // namespace detail

// Not a coroutine itself: GCC 12 mishandles captured temporaries in coroutine lambdas, so the
// work travels in a plain function object. The result type must be default-constructible.
template <class F>
auto offload(boost::asio::thread_pool& pool, F f) {
    using signature = typename detail::offload_signature<std::invoke_result_t<F&>>::type;
    return boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, signature>(
        detail::offload_initiation<F>{&pool, std::move(f)}, boost::asio::use_awaitable);
}

}  // namespace vpsfleet
