#pragma once
// Project API keys (Suble): "sk_proj_..." secrets shown once, stored as SHA-256 with a
// 20-character prefix for display, and a permission bitmask each request is checked against.
#include <pqxx/pqxx>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vpsfleet::auth {

// Suble's PermissionTypes bits.
namespace permission {
inline constexpr std::uint64_t read_vps = 1u << 0;
inline constexpr std::uint64_t vps_control = 1u << 1;
inline constexpr std::uint64_t vps_delete = 1u << 2;
inline constexpr std::uint64_t order_product = 1u << 3;
inline constexpr std::uint64_t read_colocation = 1u << 4;
inline constexpr std::uint64_t write_members = 1u << 5;
inline constexpr std::uint64_t read_api = 1u << 6;
inline constexpr std::uint64_t write_api = 1u << 7;
inline constexpr std::uint64_t write_settings = 1u << 8;
inline constexpr std::uint64_t all = 0x7fffffff;
// Suble's MEMBER_PERMS: what a project member who is not its owner may do. Managing members,
// the project's settings and its API keys stay with the owner (a key a member minted would
// outlive the membership, and could hold WRITE_MEMBERS).
inline constexpr std::uint64_t member =
    read_vps | vps_control | vps_delete | order_product | read_colocation | read_api;
}  // namespace permission

// The name of the first permission bit in `bits`, for "missing permission" errors.
std::string permission_name(std::uint64_t bits);
// The bit of a permission name ("READ_VPS"); nullopt for a name that is not a permission.
std::optional<std::uint64_t> permission_bit(std::string_view name);

struct api_key {
    std::int64_t id = 0;
    std::string uid;
    std::string name;
    std::string prefix;
    std::uint64_t permissions = 0;
    std::optional<std::string> last_used_at;
    std::string created_at;
};

struct created_api_key {
    api_key key;
    std::string secret;  // returned to the caller once, never stored
};

created_api_key create_api_key(pqxx::work& tx, std::int64_t project_id, std::int64_t user_id,
                               const std::string& name, std::uint64_t permissions);
std::vector<api_key> list_api_keys(pqxx::work& tx, std::int64_t project_id);

struct api_key_change {
    std::optional<std::string> name;
    std::optional<std::uint64_t> permissions;
};
struct updated_api_key {
    api_key before;
    api_key after;
};
// Nullopt when the project has no such live key. Requests made with the key see the change at
// once: each request reads the key's permissions afresh.
std::optional<updated_api_key> update_api_key(pqxx::work& tx, std::int64_t project_id,
                                              const std::string& uid, const api_key_change& change);
// False when the project has no such live key.
bool revoke_api_key(pqxx::work& tx, std::int64_t project_id, const std::string& uid);

}  // namespace vpsfleet::auth
