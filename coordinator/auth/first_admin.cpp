#include "coordinator/auth/first_admin.hpp"

#include "coordinator/auth/password.hpp"

namespace vpsfleet::auth {
std::optional<admin_credentials> create_first_admin(pqxx::connection& conn,
                                                    const std::string& email) {
    const std::string password = generate_password();
    const std::string hash = hash_password(password);
    pqxx::work tx(conn);
    // Serialises concurrent bootstraps so exactly one admin is created.
    tx.exec("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE");
    if (tx.exec("SELECT 1 FROM users WHERE is_admin LIMIT 1").size() > 0) return std::nullopt;
    // Made by the operator on the server itself, the account needs no mailed link to be trusted.
    tx.exec_params(
        "WITH u AS (INSERT INTO users (email, password_hash, is_admin, email_verified) "
        "VALUES ($1, $2, true, true) "
        "RETURNING id) "
        "INSERT INTO user_roles (user_id, role_id) "
        "SELECT u.id, r.id FROM u, roles r WHERE r.name = 'super_admin'",
        email, hash);
    tx.commit();
    return admin_credentials{email, password};
}

}  // namespace vpsfleet::auth
