#pragma once
// One SMTP conversation per mail through libcurl (blocking: call it from a thread of its own,
// never an I/O thread), and the RFC 5322 text of a plain-text mail.
#include "coordinator/config.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace vpsfleet::mail {

struct outgoing_mail {
    std::int64_t id = 0;  // outbox row, for a Message-ID that stays the same across retries
    std::string to;
    std::string subject;
    std::string body;
    std::chrono::system_clock::time_point created_at;
};

// Headers and body with CRLF line ends. Non-ASCII subjects become RFC 2047 encoded words; a body
// that is not 7-bit text with short lines is sent base64-encoded.
std::string format_message(const std::string& from, const outgoing_mail& mail);

class smtp_client {
  public:
    explicit smtp_client(coordinator::mail_config cfg);

    // nullopt when the server accepted the mail, else why not (curl's reason and the server's
    // last reply code). `cancelled` is polled during the conversation; true aborts it.
    std::optional<std::string> send(const outgoing_mail& mail,
                                    const std::function<bool()>& cancelled) const;

  private:
    coordinator::mail_config cfg_;
};

}  // namespace vpsfleet::mail
