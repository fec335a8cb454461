#pragma once
// The mail outbox: mail is queued as a row of mail_outbox inside the caller's own transaction
// (a password reset token and its mail commit or roll back together); mail_sender delivers it.
#include <pqxx/pqxx>

#include <cstdint>
#include <string_view>

namespace vpsfleet::mail {

// Channel NOTIFYed on commit of a transaction that queued mail, so senders wake at once.
inline constexpr std::string_view k_outbox_channel = "mail_outbox";

// Queues one plain-text mail and returns its id. Throws std::invalid_argument for an address that
// is not a single mailbox or a subject with a line break (either would forge headers).
std::int64_t enqueue(pqxx::work& tx, std::string_view to, std::string_view subject,
                     std::string_view body);

// True for something that can go in RCPT TO and To: local@domain, no spaces, brackets or
// line breaks.
bool is_plain_address(std::string_view address);

}  // namespace vpsfleet::mail
