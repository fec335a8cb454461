#include "coordinator/billing/ledger.hpp"

#include "common/secrets.hpp"
#include "coordinator/billing/billing_error.hpp"
#include "coordinator/store/sql.hpp"

namespace vpsfleet::billing {

namespace {

const std::string k_entry_columns =
    std::string("id, uid, type, amount, currency, balance_after, note, instance_id, payment_id, ") +
    store::iso8601("created_at") + " ";

template <typename T>
std::optional<T> optional_of(const pqxx::field& f) {
    return f.is_null() ? std::nullopt : std::optional<T>(f.as<T>());
}

credit_entry entry_of(const pqxx::row& r) {
    credit_entry e;
    e.id = r[0].as<std::int64_t>();
    e.uid = r[1].as<std::string>();
    e.type = r[2].as<std::string>();
    e.amount = r[3].as<std::int64_t>();
    e.currency = r[4].as<std::string>();
    e.balance_after = r[5].as<std::int64_t>();
    e.note = r[6].as<std::string>();
    e.instance_id = optional_of<std::int64_t>(r[7]);
    e.payment_id = optional_of<std::int64_t>(r[8]);
    e.created_at = r[9].as<std::string>();
    return e;
}

account account_of(const pqxx::row& r) {
    return {r[0].as<std::int64_t>(), r[1].as<std::string>(), r[2].as<std::int64_t>(),
            r[3].as<std::int64_t>()};
}

}  // namespace

account open_account(pqxx::work& tx, std::int64_t user_id, const std::string& currency) {
    tx.exec_params(
        "INSERT INTO credit_accounts (user_id, currency) VALUES ($1, $2) "
        "ON CONFLICT (user_id) DO NOTHING",
        user_id, currency);
    return *find_account(tx, user_id);
}

std::optional<account> find_account(pqxx::transaction_base& tx, std::int64_t user_id) {
    const auto rows = tx.exec_params(
        "SELECT user_id, currency, balance, overdraft_limit FROM credit_accounts "
        "WHERE user_id = $1",
        user_id);
    if (rows.empty()) return std::nullopt;
    return account_of(rows[0]);
}

credit_entry post(pqxx::work& tx, const posting& p) {
    const auto locked = tx.exec_params(
        "SELECT user_id, currency, balance, overdraft_limit FROM credit_accounts "
        "WHERE user_id = $1 FOR UPDATE",
        p.user_id);
    if (locked.empty()) throw billing_error("no_credit_account", "The account has no credits yet");
    const account a = account_of(locked[0]);
    if (p.idempotency_key) {
        const auto earlier = tx.exec_params("SELECT " + k_entry_columns +
                                                "FROM credit_entries "
                                                "WHERE user_id = $1 AND idempotency_key = $2",
                                            p.user_id, *p.idempotency_key);
        if (!earlier.empty()) return entry_of(earlier[0]);
    }
    if (a.currency != p.currency) {
        throw billing_error("currency_mismatch", "The account keeps its credits in " + a.currency +
                                                     ", not " + p.currency);
    }
    if (p.amount < 0 && a.balance + p.amount < -a.overdraft_limit) {
        throw billing_error("insufficient_credit", "The credit balance is too low for this charge");
    }
    const auto rows = tx.exec_params(
        "INSERT INTO credit_entries (uid, user_id, type, amount, currency, balance_after, note, "
        "instance_id, payment_id, idempotency_key) "
        "VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8, $9) RETURNING " +
            k_entry_columns,
        secrets::random_token("crd_", 9), p.user_id, p.type, p.amount, p.currency, p.note,
        p.instance_id, p.payment_id, p.idempotency_key);
    return entry_of(rows[0]);
}

std::vector<credit_entry> recent_entries(pqxx::transaction_base& tx, std::int64_t user_id,
                                         int limit) {
    std::vector<credit_entry> out;
    for (const auto& r :
         tx.exec_params("SELECT " + k_entry_columns +
                            "FROM credit_entries WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
                        user_id, limit)) {
        out.push_back(entry_of(r));
    }
    return out;
}

}  // namespace vpsfleet::billing
