#include "coordinator/billing/topups.hpp"

#include "coordinator/billing/ledger.hpp"

namespace vpsfleet::billing {

pending_topup create_pending_topup(pqxx::work& tx, std::int64_t user_id, const std::string& method,
                                   std::int64_t amount, const std::string& currency) {
    const auto row = tx.exec_params1(
        "INSERT INTO payments (user_id, purpose, method, amount, "
        "currency) VALUES ($1, 'topup', $2, $3, $4) RETURNING id, uid",
        user_id, method, amount, currency);
    return {row[0].as<std::int64_t>(), row[1].as<std::string>()};
}

void attach_external_id(pqxx::work& tx, std::int64_t payment_id, const std::string& external_id) {
    tx.exec_params("UPDATE payments SET external_id = $2 WHERE id = $1", payment_id, external_id);
}

settle_outcome settle_topup(pqxx::work& tx, const std::string& method,
                            const std::string& external_id, std::int64_t amount,
                            const std::string& currency) {
    const auto rows = tx.exec_params(
        "SELECT id, uid, user_id, amount, currency, status FROM payments "
        "WHERE method = $1 AND external_id = $2 AND purpose = 'topup' FOR UPDATE",
        method, external_id);
    if (rows.empty()) return settle_outcome::unknown_payment;
    const auto& r = rows[0];
    if (r[5].as<std::string>() == "paid") return settle_outcome::already_paid;
    if (r[3].as<std::int64_t>() != amount || r[4].as<std::string>() != currency) {
        return settle_outcome::mismatch;
    }
    const auto payment_id = r[0].as<std::int64_t>();
    tx.exec_params(
        "UPDATE payments SET status = 'paid', paid_at = now(), failure = NULL "
        "WHERE id = $1",
        payment_id);
    const auto user_id = r[2].as<std::int64_t>();
    open_account(tx, user_id, currency);
    post(tx, {user_id, "topup", amount, currency, "Card top-up", std::nullopt, payment_id,
              "payment:" + r[1].as<std::string>()});
    return settle_outcome::credited;
}

void fail_topup(pqxx::work& tx, const std::string& method, const std::string& external_id,
                const std::string& reason) {
    tx.exec_params(
        "UPDATE payments SET status = 'failed', failure = $3 "
        "WHERE method = $1 AND external_id = $2 AND status = 'pending'",
        method, external_id, reason);
}

}  // namespace vpsfleet::billing
