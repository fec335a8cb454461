#include "coordinator/auth/api_keys.hpp"

#include "common/secrets.hpp"
#include "coordinator/store/sql.hpp"

namespace vpsfleet::auth {

namespace {

const std::string k_columns = "id, uid, name, prefix, permissions, " +
                              store::iso8601("last_used_at") + ", " + store::iso8601("created_at");

constexpr std::pair<std::uint64_t, std::string_view> k_permission_names[] = {
    {permission::read_vps, "READ_VPS"},
    {permission::vps_control, "VPS_CONTROL"},
    {permission::vps_delete, "VPS_DELETE"},
    {permission::order_product, "ORDER_PRODUCT"},
    {permission::read_colocation, "READ_COLOCATION"},
    {permission::write_members, "WRITE_MEMBERS"},
    {permission::read_api, "READ_API"},
    {permission::write_api, "WRITE_API"},
    {permission::write_settings, "WRITE_SETTINGS"},
};

api_key from_row(const pqxx::row& r) {
    api_key k{r[0].as<std::int64_t>(),
              r[1].as<std::string>(),
              r[2].as<std::string>(),
              r[3].as<std::string>(),
              static_cast<std::uint64_t>(r[4].as<std::int64_t>()),
              std::nullopt,
              r[6].as<std::string>()};
    if (!r[5].is_null()) k.last_used_at = r[5].as<std::string>();
    return k;
}

}  // namespace

std::string permission_name(std::uint64_t bits) {
    for (const auto& [bit, name] : k_permission_names) {
        if (bits & bit) return std::string(name);
    }
    return "UNKNOWN";
}

std::optional<std::uint64_t> permission_bit(std::string_view name) {
    for (const auto& [bit, known] : k_permission_names) {
        if (name == known) return bit;
    }
    return std::nullopt;
}

created_api_key create_api_key(pqxx::work& tx, std::int64_t project_id, std::int64_t user_id,
                               const std::string& name, std::uint64_t permissions) {
    const std::string secret = secrets::random_token("sk_proj_");
    const std::string uid = secrets::random_token("apk_", 9);
    const auto row = tx.exec_params1(
        "INSERT INTO api_keys (uid, project_id, user_id, name, prefix, secret_hash, "
        "permissions) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING " +
            k_columns,
        uid, project_id, user_id, name, secret.substr(0, 20), secrets::sha256_hex(secret),
        static_cast<std::int64_t>(permissions));
    return {from_row(row), secret};
}

std::vector<api_key> list_api_keys(pqxx::work& tx, std::int64_t project_id) {
    std::vector<api_key> out;
    for (const auto& r : tx.exec_params("SELECT " + k_columns +
                                            " FROM api_keys WHERE project_id = $1 AND "
                                            "revoked_at IS NULL ORDER BY id DESC",
                                        project_id)) {
        out.push_back(from_row(r));
    }
    return out;
}

std::optional<updated_api_key> update_api_key(pqxx::work& tx, std::int64_t project_id,
                                              const std::string& uid,
                                              const api_key_change& change) {
    const auto rows = tx.exec_params("SELECT " + k_columns +
                                         " FROM api_keys WHERE project_id = $1 AND uid = $2 AND "
                                         "revoked_at IS NULL FOR UPDATE",
                                     project_id, uid);
    if (rows.empty()) return std::nullopt;
    std::optional<std::int64_t> permissions;
    if (change.permissions) permissions = static_cast<std::int64_t>(*change.permissions);
    const auto after = tx.exec_params1(
        "UPDATE api_keys SET name = COALESCE($2, name), "
        "permissions = COALESCE($3, permissions) "
        "WHERE id = $1 RETURNING " +
            k_columns,
        rows[0][0].as<std::int64_t>(), change.name, permissions);
    return updated_api_key{from_row(rows[0]), from_row(after)};
}

bool revoke_api_key(pqxx::work& tx, std::int64_t project_id, const std::string& uid) {
    return !tx.exec_params(
                  "UPDATE api_keys SET revoked_at = now() "
                  "WHERE project_id = $1 AND uid = $2 AND revoked_at IS NULL RETURNING 1",
                  project_id, uid)
                .empty();
}

}  // namespace vpsfleet::auth
