#include "coordinator/limits/account_limits.hpp"

#include <algorithm>
#include <map>
#include <stdexcept>

namespace vpsfleet::limits {

namespace {

struct instance_usage {
    std::int64_t count = 0;
    std::int64_t memory_mb = 0;
};

// Instances are live until deleted: queued, installing, stopped and failed ones hold their place.
instance_usage instances_of(pqxx::transaction_base& tx, std::int64_t user_id) {
    const auto r = tx.exec_params1(
        "SELECT count(*), COALESCE(sum(pl.memory_mb), 0) FROM instances i "
        "JOIN projects p ON p.id = i.project_id JOIN plans pl ON pl.id = i.plan_id "
        "WHERE p.owner_user_id = $1 AND i.deleted_at IS NULL",
        user_id);
    return {r[0].as<std::int64_t>(), r[1].as<std::int64_t>()};
}

// Templates hold their storage until deleted.
std::int64_t template_storage_gb_of(pqxx::transaction_base& tx, std::int64_t user_id) {
    return tx
        .exec_params1(
            "SELECT COALESCE(sum(t.size_gb), 0) FROM templates t "
            "JOIN projects p ON p.id = t.project_id "
            "WHERE p.owner_user_id = $1 AND t.status <> 'deleted'",
            user_id)[0]
        .as<std::int64_t>();
}

std::map<std::string, std::int64_t> overrides_of(pqxx::transaction_base& tx, std::int64_t user_id) {
    std::map<std::string, std::int64_t> out;
    for (const auto& r : tx.exec_params(
             "SELECT quota_key, value FROM account_limit_overrides WHERE user_id = $1", user_id)) {
        out[r[0].as<std::string>()] = r[1].as<std::int64_t>();
    }
    return out;
}

}  // namespace

bool is_quota_key(std::string_view key) {
    return std::ranges::find(k_quota_keys, key) != k_quota_keys.end();
}

std::int64_t default_limit(const coordinator::limits_config& defaults, std::string_view key) {
    if (key == "instances") return defaults.instances;
    if (key == "memoryMb") return defaults.memory_mb;
    if (key == "templateStorageGb") return defaults.template_storage_gb;
    if (key == "restoresPerMonth") return defaults.restores_per_month;
    throw std::invalid_argument("unknown quota key " + std::string(key));
}

std::vector<quota> account_quotas(pqxx::transaction_base& tx,
                                  const coordinator::limits_config& defaults,
                                  std::int64_t user_id) {
    const auto usage = instances_of(tx, user_id);
    const auto overrides = overrides_of(tx, user_id);
    std::vector<quota> out;
    for (const auto key : k_quota_keys) {
        quota q{std::string(key), 0, default_limit(defaults, key)};
        if (const auto it = overrides.find(q.key); it != overrides.end()) q.limit = it->second;
        if (key == "instances") q.used = usage.count;
        if (key == "memoryMb") q.used = usage.memory_mb;
        if (key == "templateStorageGb") q.used = template_storage_gb_of(tx, user_id);
        out.push_back(std::move(q));
    }
    return out;
}

std::int64_t effective_limit(pqxx::transaction_base& tx, const coordinator::limits_config& defaults,
                             std::int64_t user_id, std::string_view key) {
    const auto rows = tx.exec_params(
        "SELECT value FROM account_limit_overrides WHERE user_id = $1 AND quota_key = $2", user_id,
        std::string(key));
    return rows.empty() ? default_limit(defaults, key) : rows[0][0].as<std::int64_t>();
}

std::optional<quota> quota_exceeded_by(pqxx::work& tx, const coordinator::limits_config& defaults,
                                       std::int64_t owner_id, std::int64_t more_instances,
                                       std::int64_t more_memory_mb) {
    tx.exec_params("SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE", owner_id);
    for (const auto& q : account_quotas(tx, defaults, owner_id)) {
        if (q.key == "instances" && more_instances > 0 && q.used + more_instances > q.limit) {
            return q;
        }
        if (q.key == "memoryMb" && more_memory_mb > 0 && q.used + more_memory_mb > q.limit) {
            return q;
        }
    }
    return std::nullopt;
}

}  // namespace vpsfleet::limits
