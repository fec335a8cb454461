#pragma once
// Credit top-ups paid through a provider: a pending payment row before the provider is called
// (so a retry reuses its idempotency key), the provider's id once it answers, and settlement when
// the money is in: the payment marked paid and one topup entry in the ledger, in one transaction.
// Settlement is idempotent, so the API's own confirmation and the provider's webhook (which may
// arrive in any order, and more than once) credit the money exactly once.
#include <pqxx/pqxx>

#include <cstdint>
#include <optional>
#include <string>

namespace vpsfleet::billing {

struct pending_topup {
    std::int64_t id = 0;
    std::string uid;  // also the provider idempotency key's stem
};

pending_topup create_pending_topup(pqxx::work& tx, std::int64_t user_id, const std::string& method,
                                   std::int64_t amount, const std::string& currency);
void attach_external_id(pqxx::work& tx, std::int64_t payment_id, const std::string& external_id);

enum class settle_outcome { credited, already_paid, unknown_payment, mismatch };

// The provider says `external_id` succeeded for amount/currency. mismatch: the amount or currency
// differs from what was asked (nothing is credited; the caller logs it for an operator).
settle_outcome settle_topup(pqxx::work& tx, const std::string& method,
                            const std::string& external_id, std::int64_t amount,
                            const std::string& currency);

// A pending payment the provider reports failed; a paid one stays paid.
void fail_topup(pqxx::work& tx, const std::string& method, const std::string& external_id,
                const std::string& reason);

}  // namespace vpsfleet::billing
