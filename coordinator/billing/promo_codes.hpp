#pragma once
// Redeeming a promo code into the credits ledger, in the caller's transaction: the code's row is
// locked, so its usage cap holds under concurrent redemptions, and each account may redeem a code
// once (promo_redemptions' key).
#include "coordinator/billing/ledger.hpp"

#include <pqxx/pqxx>

#include <cstdint>
#include <string>

namespace vpsfleet::billing {

// "  welcome50 " -> "WELCOME50"; nullopt when it cannot be a code (empty, over 64 characters,
// or characters other than letters, digits, '-' and '_').
std::optional<std::string> normalize_promo_code(const std::string& text);

struct redeemed {
    std::int64_t credited = 0;
    std::int64_t balance_after = 0;
};

// Throws billing_error with code promo_not_found, promo_inactive (inactive, expired or used up:
// the message says which), promo_already_used, or the ledger's currency_mismatch.
redeemed redeem_promo(pqxx::work& tx, std::int64_t user_id, const std::string& code);

}  // namespace vpsfleet::billing
