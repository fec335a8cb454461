#pragma once
// The writing half of a WebSocket link: a bounded queue of text messages and the loop that drains
// it. Both ends of the fleet link use it. Everything runs on the stream's strand; push() refuses
// when the queue is full so the owner can drop a peer that cannot keep up instead of growing
// memory.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include <cstddef>
#include <deque>
#include <functional>
#include <optional>
#include <string>

namespace vpsfleet {

template <class WebSocket>
class ws_outbox {
  public:
    // on_depth_change(delta) follows the queue length, for a gauge shared by many links.
    ws_outbox(WebSocket& ws, std::size_t capacity, std::function<void(double)> on_depth_change = {})
        : ws_(ws),
          capacity_(capacity),
          wake_(ws.get_executor(), std::chrono::steady_clock::time_point::max()),
          on_depth_change_(std::move(on_depth_change)) {}

    // False when the queue is full or the outbox is closed.
    bool push(std::string text) {
        if (closed_ || finish_ || queue_.size() >= capacity_) return false;
        queue_.push_back(std::move(text));
        depth_changed(1);
        wake_.cancel();
        return true;
    }

    // Sends what is queued, then a close frame with `reason`; nothing more is accepted.
    void finish(boost::beast::websocket::close_reason reason) {
        finish_ = std::move(reason);
        wake_.cancel();
    }

    // Writes queued messages until close() or finish(); returns the error that stopped it, if any.
    boost::asio::awaitable<boost::system::error_code> run() {
        boost::system::error_code ec;
        while (!closed_) {
            if (queue_.empty() && finish_) {
                co_await ws_.async_close(
                    *finish_, boost::asio::redirect_error(boost::asio::use_awaitable, ec));
                break;
            }
            if (queue_.empty()) {
                wake_.expires_at(std::chrono::steady_clock::time_point::max());
                co_await wake_.async_wait(
                    boost::asio::redirect_error(boost::asio::use_awaitable, ec));
                ec = {};
                continue;
            }
            const std::string text = std::move(queue_.front());
            queue_.pop_front();
            depth_changed(-1);
            ws_.text(true);
            co_await ws_.async_write(boost::asio::buffer(text),
                                     boost::asio::redirect_error(boost::asio::use_awaitable, ec));
            if (ec) break;
        }
        depth_changed(-static_cast<double>(queue_.size()));
        queue_.clear();
        closed_ = true;
        co_return ec;
    }

    void close() {
        closed_ = true;
        wake_.cancel();
    }

    std::size_t depth() const { return queue_.size(); }

  private:
    void depth_changed(double delta) {
        if (on_depth_change_) on_depth_change_(delta);
    }

    WebSocket& ws_;
    const std::size_t capacity_;
    boost::asio::steady_timer wake_;
    std::deque<std::string> queue_;
    bool closed_ = false;
    std::optional<boost::beast::websocket::close_reason> finish_;
    std::function<void(double)> on_depth_change_;
};

}  // namespace vpsfleet
