#pragma once
// Account quotas (Suble /account/limits): what an account uses of each quota, and its effective
// limit — its own limit (account_limit_overrides, written when an operator approves a limit
// request) or else the platform default from the coordinator config. An account is the owner of
// projects: its instances are the live ones in every project it owns.
#include "coordinator/config.hpp"

#include <pqxx/pqxx>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vpsfleet::limits {

// The quotas by their API keys, in the order GET /account/limits lists them.
inline constexpr std::array<std::string_view, 4> k_quota_keys{
    "instances", "memoryMb", "templateStorageGb", "restoresPerMonth"};

bool is_quota_key(std::string_view key);

// The configured default of a quota key (one of k_quota_keys).
std::int64_t default_limit(const coordinator::limits_config& defaults, std::string_view key);

struct quota {
    std::string key;
    std::int64_t used = 0;
    std::int64_t limit = 0;
};

// Every quota of the account, in k_quota_keys order. Restores are not tracked yet, so their
// usage is 0.
std::vector<quota> account_quotas(pqxx::transaction_base& tx,
                                  const coordinator::limits_config& defaults, std::int64_t user_id);

// The effective limit of one quota.
std::int64_t effective_limit(pqxx::transaction_base& tx, const coordinator::limits_config& defaults,
                             std::int64_t user_id, std::string_view key);

// The quota that `more_instances` more instances and `more_memory_mb` more memory would take
// past its limit, or nullopt when they fit. Locks the owner's row first, so two orders (or
// resizes) of one account are checked one after the other and cannot both take the last place.
std::optional<quota> quota_exceeded_by(pqxx::work& tx, const coordinator::limits_config& defaults,
                                       std::int64_t owner_id, std::int64_t more_instances,
                                       std::int64_t more_memory_mb);

}  // namespace vpsfleet::limits
