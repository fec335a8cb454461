#include "coordinator/mail/mail_sender.hpp"

#include "common/log.hpp"
#include "coordinator/mail/outbox.hpp"

#include <algorithm>

namespace vpsfleet::mail {
namespace {

using namespace std::chrono_literals;

constexpr auto k_max_backoff = std::chrono::milliseconds(1h);
constexpr auto k_wait_slice = 250ms;  // how soon stop() is noticed while idle
const std::string k_shutdown_error = "interrupted by shutdown";

// Only LISTENs; the wake-up is await_notification returning.
class wake_on_notify : public pqxx::notification_receiver {
  public:
    using pqxx::notification_receiver::notification_receiver;
    void operator()(const std::string&, int) override {}
};

}  // namespace

mail_sender::mail_sender(std::string conninfo, coordinator::mail_config cfg)
    : conninfo_(std::move(conninfo)), cfg_(std::move(cfg)), smtp_(cfg_) {}

mail_sender::~mail_sender() { stop(); }

void mail_sender::start() {
    stopping_ = false;
    thread_ = std::thread([this] { run(); });
}

void mail_sender::stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
}

std::chrono::milliseconds mail_sender::backoff(int attempts) const {
    auto delay = cfg_.retry_backoff;
    for (int i = 1; i < attempts && delay < k_max_backoff; ++i) delay *= 2;
    return std::min(delay, k_max_backoff);
}

std::size_t mail_sender::deliver_due(pqxx::connection& conn) {
    // Longer than any conversation, so nobody else takes a mail while it is being sent.
    const auto lease = cfg_.timeout + 60s;
    const auto is_cancelled = [this] { return stopping_.load(); };
    const std::function<bool()> cancelled = is_cancelled;
    std::size_t sent = 0;
    while (!stopping_) {
        outgoing_mail mail;
        int attempts = 0;
        {
            pqxx::work tx(conn);
            const auto rows = tx.exec_params(
                "UPDATE mail_outbox SET attempts = attempts + 1,"
                " next_attempt_at = now() + $1 * interval '1 millisecond'"
                " WHERE id = (SELECT id FROM mail_outbox WHERE next_attempt_at <= now()"
                "             ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)"
                " RETURNING id, to_address, subject, body, attempts,"
                "           (extract(epoch FROM created_at) * 1000000)::bigint",
                static_cast<long long>(lease.count()));
            tx.commit();
            if (rows.empty()) break;
            const auto& row = rows[0];
            mail.id = row[0].as<std::int64_t>();
            mail.to = row[1].as<std::string>();
            mail.subject = row[2].as<std::string>();
            mail.body = row[3].as<std::string>();
            attempts = row[4].as<int>();
            mail.created_at = std::chrono::system_clock::time_point(
                std::chrono::microseconds(row[5].as<std::int64_t>()));
        }

        const auto error = smtp_.send(mail, cancelled);
        pqxx::work tx(conn);
        if (!error) {
            tx.exec_params(
                "UPDATE mail_outbox SET sent_at = now(), next_attempt_at = NULL, last_error = NULL"
                " WHERE id = $1",
                mail.id);
            ++sent;
            if (failing_) log::info("mail: delivering again", {{"mail_id", mail.id}});
            failing_ = false;
            log::debug("mail sent", {{"mail_id", mail.id}, {"attempts", attempts}});
        } else if (stopping_) {
            // Not the server's fault: hand it back for the next sender, attempt not counted.
            tx.exec_params(
                "UPDATE mail_outbox SET attempts = attempts - 1, next_attempt_at = now(),"
                " last_error = $2 WHERE id = $1",
                mail.id, k_shutdown_error);
        } else if (attempts >= cfg_.max_attempts) {
            tx.exec_params(
                "UPDATE mail_outbox SET next_attempt_at = NULL, last_error = $2 WHERE id = $1",
                mail.id, *error);
            log::warn("mail: giving up",
                      {{"mail_id", mail.id}, {"attempts", attempts}, {"error", *error}});
        } else {
            const auto retry = backoff(attempts);
            tx.exec_params(
                "UPDATE mail_outbox SET next_attempt_at = now() + $2 * interval '1 millisecond',"
                " last_error = $3 WHERE id = $1",
                mail.id, static_cast<long long>(retry.count()), *error);
            const nlohmann::json fields{{"mail_id", mail.id},
                                        {"attempts", attempts},
                                        {"retry_ms", retry.count()},
                                        {"error", *error}};
            if (!failing_) {
                log::warn("mail: SMTP delivery failing, will retry", fields);
            } else {
                log::debug("mail: delivery failed, will retry", fields);
            }
            failing_ = true;
        }
        tx.commit();
    }
    return sent;
}

std::optional<std::chrono::milliseconds> mail_sender::next_due_in(pqxx::connection& conn) {
    pqxx::read_transaction tx(conn);
    const auto row = tx.exec(
        "SELECT (greatest(0, extract(epoch FROM min(next_attempt_at) - now())) * 1000)::bigint"
        " FROM mail_outbox WHERE next_attempt_at IS NOT NULL")[0];
    if (row[0].is_null()) return std::nullopt;
    return std::chrono::milliseconds(row[0].as<long long>());
}

void mail_sender::run() {
    bool reported = false;
    while (!stopping_) {
        try {
            pqxx::connection conn(conninfo_);
            wake_on_notify listen(conn, std::string(k_outbox_channel));
            if (reported) log::info("mail: outbox reachable again");
            reported = false;
            while (!stopping_) {
                deliver_due(conn);
                auto wait = cfg_.poll_interval;
                if (const auto due = next_due_in(conn)) wait = std::min(wait, *due);
                const auto until = std::chrono::steady_clock::now() + wait;
                // A NOTIFY (new mail committed) ends the wait early.
                while (!stopping_) {
                    const auto left = std::chrono::duration_cast<std::chrono::microseconds>(
                        until - std::chrono::steady_clock::now());
                    if (left.count() <= 0) break;
                    const auto slice = std::min<std::chrono::microseconds>(left, k_wait_slice);
                    if (conn.await_notification(0, static_cast<long>(slice.count())) > 0) break;
                }
            }
        } catch (const pqxx::undefined_table&) {
            // A fresh database the coordinator is still migrating.
            log::debug("mail: outbox table not there yet");
        } catch (const std::exception& e) {
            if (!reported) log::warn("mail: outbox unreachable, retrying", {{"error", e.what()}});
            reported = true;
        }
        for (int i = 0; i < 4 && !stopping_; ++i) std::this_thread::sleep_for(k_wait_slice);
    }
}

}  // namespace vpsfleet::mail
