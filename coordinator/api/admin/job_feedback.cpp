#include "coordinator/api/admin/job_feedback.hpp"

#include "common/log.hpp"
#include "common/utc_time.hpp"
#include "common/ws_outbox.hpp"
#include "coordinator/jobs/job_watch.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include <deque>
#include <map>
#include <memory>

namespace vpsfleet::api::admin {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using json = nlohmann::json;
using asio::use_awaitable;

namespace {

// Feedback a client has not taken yet; past this the client is too slow and is dropped.
constexpr std::size_t k_outbox_messages = 4096;
constexpr std::size_t k_max_client_message = 4096;

std::string iso8601(jobs::time_point at) { return iso8601_utc(at); }

std::string error_message(const json& data) {
    const json& error = data.contains("error") ? data["error"] : data;
    if (error.is_object() && error.contains("message") && error["message"].is_string())
        return error["message"].get<std::string>();
    return error.is_string() ? error.get<std::string>() : error.dump();
}

json event_status(const jobs::job_event& e, const std::string& job_type) {
    if (e.type == "started") return "Started";
    if (e.type == "progress") {
        return {{"Progress",
                 {{"percent", e.data.value("percent", 0)},
                  {"message", e.data.value("message", std::string())}}}};
    }
    if (e.type == "retrying") {
        return {
            {"Progress",
             {{"percent", 0}, {"message", "attempt failed, retrying: " + error_message(e.data)}}}};
    }
    if (e.type == "compensating") {
        return {
            {"Progress",
             {{"percent", 0}, {"message", "undoing completed steps: " + error_message(e.data)}}}};
    }
    if (e.type == "completed") {
        const json& result = e.data.contains("result") ? e.data["result"] : json();
        const std::string text = result.is_string()                   ? result.get<std::string>()
                                 : result.is_null() || result.empty() ? job_type + " completed"
                                                                      : result.dump();
        return {{"Completed", {{"result", text}}}};
    }
    if (e.type == "failed") return {{"Failed", {{"error", error_message(e.data)}}}};
    if (e.type == "cancelled") {
        const std::string reason = e.data.contains("reason") && e.data["reason"].is_string()
                                       ? e.data["reason"].get<std::string>()
                                       : error_message(e.data);
        return {{"Cancelled", {{"reason", reason}}}};
    }
    return nullptr;
}

std::optional<job_identity> identity_of(pqxx::connection& conn, std::int64_t id) {
    pqxx::read_transaction tx(conn);
    const auto rows = tx.exec_params("SELECT uid, kind, args::text FROM jobs WHERE id = $1", id);
    if (rows.empty()) return std::nullopt;
    return job_identity{id, rows[0][0].as<std::string>(), rows[0][1].as<std::string>(),
                        json::parse(rows[0][2].as<std::string>())};
}

class feedback_stream : public std::enable_shared_from_this<feedback_stream> {
  public:
    feedback_stream(http::websocket_stream ws, store::database& db, jobs::job_watch& watch,
                    std::optional<job_identity> job)
        : ws_(std::move(ws)),
          db_(db),
          watch_(watch),
          job_(std::move(job)),
          outbox_(ws_, k_outbox_messages),
          wake_(ws_.get_executor()) {
        if (job_) known_.emplace(job_->id, *job_);
    }

    asio::awaitable<void> run() {
        auto self = shared_from_this();
        ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
        ws_.read_message_max(k_max_client_message);
        asio::co_spawn(ws_.get_executor(), write_loop(), asio::detached);
        asio::co_spawn(ws_.get_executor(), pump(), asio::detached);
        push({{"type", "connected"},
              {"message", job_ ? "Connected to job " + job_->uid + " feedback stream"
                               : std::string("Job feedback stream connected")}});
        std::weak_ptr<feedback_stream> weak = self;
        auto deliver = [weak, ex = ws_.get_executor()](const std::vector<jobs::job_event>& events) {
            asio::post(ex, [weak, events] {
                if (const auto s = weak.lock()) s->queue(events);
            });
        };
        subscription_ = job_ ? watch_.follow(job_->id, 0, deliver) : watch_.follow_all(deliver);
        co_await read_loop();
        subscription_.reset();
        drop();
    }

  private:
    void push(const json& message) {
        if (!closing_ && !outbox_.push(message.dump())) {
            log::warn("job feedback client too slow, dropping it", {});
            drop();
        }
    }

    void queue(const std::vector<jobs::job_event>& events) {
        if (closing_) return;
        pending_.insert(pending_.end(), events.begin(), events.end());
        wake_.cancel();
    }

    void drop() {
        if (closing_) return;
        closing_ = true;
        beast::error_code ignored;
        beast::get_lowest_layer(ws_).socket().shutdown(asio::ip::tcp::socket::shutdown_both,
                                                       ignored);
        beast::get_lowest_layer(ws_).socket().close(ignored);
        outbox_.close();
        wake_.cancel();
    }

    asio::awaitable<void> write_loop() {
        auto self = shared_from_this();
        const auto ec = co_await outbox_.run();
        if (ec) drop();
    }

    // Events in order: a job first seen in the global feed is looked up once.
    asio::awaitable<void> pump() {
        auto self = shared_from_this();
        while (!closing_) {
            if (pending_.empty()) {
                wake_.expires_at(std::chrono::steady_clock::time_point::max());
                beast::error_code ec;
                co_await wake_.async_wait(asio::redirect_error(use_awaitable, ec));
                continue;
            }
            const jobs::job_event event = pending_.front();
            pending_.pop_front();
            auto known = known_.find(event.job_id);
            if (known == known_.end()) {
                auto lookup = [id = event.job_id](pqxx::connection& c) {
                    return identity_of(c, id);
                };
                std::optional<job_identity> found;
                try {
                    found = co_await db_.run(lookup);
                } catch (const std::exception& e) {
                    log::warn("job feedback cannot read a job", {{"error", e.what()}});
                }
                if (!found) continue;
                known = known_.emplace(event.job_id, std::move(*found)).first;
            }
            json feedback = feedback_of(event, known->second);
            if (jobs::is_final_event(event.type) && !job_) known_.erase(known);
            if (!feedback.is_null())
                push({{"type", "job_feedback"}, {"feedback", std::move(feedback)}});
        }
    }

    asio::awaitable<void> read_loop() {
        beast::flat_buffer buffer;
        while (!closing_) {
            beast::error_code ec;
            co_await ws_.async_read(buffer, asio::redirect_error(use_awaitable, ec));
            if (ec) co_return;
            const auto message =
                json::parse(beast::buffers_to_string(buffer.data()), nullptr, false);
            buffer.consume(buffer.size());
            if (message.is_object() && message.value("type", "") == "ping") {
                push({{"type", "pong"}});
            } else {
                push({{"type", "error"},
                      {"error", "unknown message: send {\"type\":\"ping\"} to check the link"}});
            }
        }
    }

    http::websocket_stream ws_;
    store::database& db_;
    jobs::job_watch& watch_;
    std::optional<job_identity> job_;
    ws_outbox<http::websocket_stream> outbox_;
    asio::steady_timer wake_;
    std::deque<jobs::job_event> pending_;
    std::map<std::int64_t, job_identity> known_;
    jobs::job_watch::subscription subscription_;
    bool closing_ = false;
};

// A coroutine's parameters live in its frame: the stream stays alive until it has run.
asio::awaitable<void> run_stream(std::shared_ptr<feedback_stream> stream) {
    co_await stream->run();
}

}  // namespace

std::string lnvps_job_type(const std::string& kind, const json& args) {
    if (kind == "instance.create") return "CreateVm";
    if (kind == "instance.delete") return "DeleteVm";
    if (kind == "instance.power") {
        const std::string action = args.value("action", "");
        if (action == "start") return "StartVm";
        if (action == "stop" || action == "shutdown") return "StopVm";
        return "ConfigureVm";
    }
    if (kind == "billing.refund") return "ProcessVmRefund";
    if (kind == "ip.assign") return "AssignVmIp";
    if (kind == "ip.unassign") return "UnassignVmIp";
    if (kind == "ip.update") return "UpdateVmIp";
    if (kind == "firewall.sync") return "ConfigureVm";
    return kind;
}

json feedback_of(const jobs::job_event& event, const job_identity& job) {
    const std::string job_type = lnvps_job_type(job.kind, job.args);
    json status = event_status(event, job_type);
    if (status.is_null()) return nullptr;
    return {{"job_id", job.uid},
            {"worker_id", event.worker},
            {"job_type", job_type},
            {"status", std::move(status)},
            {"timestamp", iso8601(event.at)}};
}

http::websocket_session feedback_session(store::database& db, jobs::job_watch& watch,
                                         std::optional<job_identity> job) {
    return [&db, &watch, job = std::move(job)](http::websocket_stream ws) {
        return run_stream(std::make_shared<feedback_stream>(std::move(ws), db, watch, job));
    };
}

}  // namespace vpsfleet::api::admin
