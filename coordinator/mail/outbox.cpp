#include "coordinator/mail/outbox.hpp"

#include <stdexcept>
#include <string>

namespace vpsfleet::mail {

bool is_plain_address(std::string_view address) {
    const auto at = address.rfind('@');
    if (at == std::string_view::npos || at == 0 || at + 1 == address.size()) return false;
    if (address.size() > 254) return false;
    for (unsigned char c : address) {
        if (c <= ' ' || c == 0x7f || c == '<' || c == '>' || c == '(' || c == ')' || c == ',' ||
            c == ';' || c == '"' || c == '\\') {
            return false;
        }
    }
    return true;
}

std::int64_t enqueue(pqxx::work& tx, std::string_view to, std::string_view subject,
                     std::string_view body) {
    if (!is_plain_address(to)) {
        throw std::invalid_argument("not a mail address: '" + std::string(to) + "'");
    }
    if (subject.find_first_of("\r\n") != std::string_view::npos) {
        throw std::invalid_argument("a mail subject cannot contain a line break");
    }
    const auto id = tx.exec_params1(
                          "INSERT INTO mail_outbox (to_address, subject, body) "
                          "VALUES ($1, $2, $3) RETURNING id",
                          std::string(to), std::string(subject), std::string(body))[0]
                        .as<std::int64_t>();
    // Delivered only if the transaction commits, so a rolled-back mail wakes nobody either.
    tx.exec("NOTIFY " + std::string(k_outbox_channel));
    return id;
}

}  // namespace vpsfleet::mail
