#pragma once
// The credits ledger (Suble billing/credits): one account per user in one currency, and
// append-only entries whose sum is the balance. The database keeps that invariant (a trigger
// moves the balance with every entry, a CHECK holds it above -overdraft_limit); post() adds the
// refusal a customer can read, taken under the account's row lock so concurrent charges queue.
#include <pqxx/pqxx>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vpsfleet::billing {

struct credit_entry {
    std::int64_t id = 0;
    std::string uid;
    std::string type;  // topup, charge, refund, promo, adjustment
    std::int64_t amount = 0;
    std::string currency;
    std::int64_t balance_after = 0;
    std::string note;
    std::optional<std::int64_t> instance_id;
    std::optional<std::int64_t> payment_id;
    std::string created_at;  // ISO 8601 UTC
};

struct posting {
    std::int64_t user_id = 0;
    std::string type;
    std::int64_t amount = 0;  // minor units; negative for a charge
    std::string currency;
    std::string note;
    std::optional<std::int64_t> instance_id = {};
    std::optional<std::int64_t> payment_id = {};
    // A second posting with the same key for the same user returns the first entry unchanged.
    std::optional<std::string> idempotency_key = {};
};

struct account {
    std::int64_t user_id = 0;
    std::string currency;
    std::int64_t balance = 0;
    std::int64_t overdraft_limit = 0;
};

// Opens the user's account in `currency` unless it has one; returns it either way.
account open_account(pqxx::work& tx, std::int64_t user_id, const std::string& currency);
std::optional<account> find_account(pqxx::transaction_base& tx, std::int64_t user_id);

// Throws billing_error: insufficient_credit (a debit beyond balance + overdraft), currency_mismatch
// (the account keeps another currency), no_credit_account.
credit_entry post(pqxx::work& tx, const posting& p);

// Newest first.
std::vector<credit_entry> recent_entries(pqxx::transaction_base& tx, std::int64_t user_id,
                                         int limit);

}  // namespace vpsfleet::billing
