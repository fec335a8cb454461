#include "coordinator/billing/promo_codes.hpp"

#include "coordinator/billing/billing_error.hpp"

#include <cctype>

namespace vpsfleet::billing {

std::optional<std::string> normalize_promo_code(const std::string& text) {
    const auto first = text.find_first_not_of(" \t");
    if (first == std::string::npos) return std::nullopt;
    const auto last = text.find_last_not_of(" \t");
    std::string code = text.substr(first, last - first + 1);
    if (code.size() > 64) return std::nullopt;
    for (char& ch : code) {
        const auto u = static_cast<unsigned char>(ch);
        if (!std::isalnum(u) && ch != '-' && ch != '_') return std::nullopt;
        ch = static_cast<char>(std::toupper(u));
    }
    return code;
}

redeemed redeem_promo(pqxx::work& tx, std::int64_t user_id, const std::string& code) {
    const auto rows = tx.exec_params(
        "SELECT id, credit_amount, currency, active, expires_at IS NOT NULL AND expires_at <= "
        "now(), "
        "max_redemptions IS NOT NULL AND redemptions >= max_redemptions "
        "FROM promo_codes WHERE code = $1 FOR UPDATE",
        code);
    if (rows.empty()) throw billing_error("promo_not_found", "No promo code " + code);
    const auto& r = rows[0];
    if (!r[3].as<bool>())
        throw billing_error("promo_inactive", "Promo code " + code + " is not active");
    if (r[4].as<bool>())
        throw billing_error("promo_inactive", "Promo code " + code + " has expired");
    if (r[5].as<bool>()) {
        throw billing_error("promo_inactive", "Promo code " + code + " has been used up");
    }
    const auto promo_id = r[0].as<std::int64_t>();
    if (!tx.exec_params("SELECT 1 FROM promo_redemptions WHERE promo_id = $1 AND user_id = $2",
                        promo_id, user_id)
             .empty()) {
        throw billing_error("promo_already_used", "You have already redeemed " + code);
    }
    const std::string currency = r[2].as<std::string>();
    open_account(tx, user_id, currency);
    const auto entry =
        post(tx, {user_id, "promo", r[1].as<std::int64_t>(), currency, "Promo code " + code});
    tx.exec_params(
        "INSERT INTO promo_redemptions (promo_id, user_id, credit_entry_id) VALUES ($1, $2, $3)",
        promo_id, user_id, entry.id);
    tx.exec_params("UPDATE promo_codes SET redemptions = redemptions + 1 WHERE id = $1", promo_id);
    return {entry.amount, entry.balance_after};
}

}  // namespace vpsfleet::billing
