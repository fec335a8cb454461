#pragma once
// Delivers mail_outbox over SMTP from a thread of its own (libpqxx and libcurl both block), on a
// connection of its own that LISTENs for new mail, so mail goes out as soon as it commits.
//
// Each mail is claimed in a short transaction (FOR UPDATE SKIP LOCKED, attempts + 1, and
// next_attempt_at pushed past the SMTP timeout as a lease), sent, then marked sent, or given
// its error and a retry time that doubles from retry_backoff up to an hour, until max_attempts
// is used up and it is given up with its last error kept. Any number of senders, in any number of
// coordinators, share one outbox: a mail is claimed by one at a time. Delivery is at least once:
// a coordinator that dies between the server's acceptance and the mark sends the mail again.
#include "coordinator/config.hpp"
#include "coordinator/mail/smtp_client.hpp"

#include <pqxx/pqxx>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <thread>

namespace vpsfleet::mail {

class mail_sender {
  public:
    mail_sender(std::string conninfo, coordinator::mail_config cfg);
    ~mail_sender();
    mail_sender(const mail_sender&) = delete;
    mail_sender& operator=(const mail_sender&) = delete;

    void start();
    // Interrupts a conversation in progress (the mail is retried later, by any sender) and joins
    // the thread.
    void stop();

    // Sends everything due now, on the calling thread; returns how many mails were accepted.
    std::size_t deliver_due(pqxx::connection& conn);

  private:
    void run();
    std::optional<std::chrono::milliseconds> next_due_in(pqxx::connection& conn);
    std::chrono::milliseconds backoff(int attempts) const;

    std::string conninfo_;
    coordinator::mail_config cfg_;
    smtp_client smtp_;
    std::atomic<bool> stopping_{false};
    bool failing_ = false;  // the last attempt failed; only the first failure is logged loudly
    std::thread thread_;
};

}  // namespace vpsfleet::mail
