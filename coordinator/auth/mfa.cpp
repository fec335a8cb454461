#include "coordinator/auth/mfa.hpp"

#include "coordinator/api/api_error.hpp"
#include "coordinator/auth/totp.hpp"

#include <regex>

namespace vpsfleet::auth {

namespace {

bool six_digits(const std::string& code) {
    static const std::regex pattern("^[0-9]{6}$");
    return std::regex_match(code, pattern);
}

void require_six_digits(const std::string& code) {
    if (!six_digits(code)) throw api::bad_request("Enter the 6-digit code");
}

// The user's active TOTP secret and last used step; throws when MFA is not enabled.
bool check_totp(pqxx::work& tx, const secret_box& box, std::int64_t user_id,
                const std::string& code, const char* column) {
    const auto row = tx.exec_params1(
        std::string("SELECT ") + column + ", mfa_last_step FROM users WHERE id = $1 FOR UPDATE",
        user_id);
    if (row[0].is_null()) return false;
    const auto key = box.open(pqxx::binarystring(row[0]).str());
    if (!key) throw std::runtime_error("MFA secret cannot be opened with the current key");
    std::optional<std::uint64_t> last;
    if (!row[1].is_null()) last = static_cast<std::uint64_t>(row[1].as<std::int64_t>());
    const auto step = totp::verify(*key, code, std::chrono::system_clock::now(), last);
    if (!step) return false;
    tx.exec_params("UPDATE users SET mfa_last_step = $2 WHERE id = $1", user_id,
                   static_cast<std::int64_t>(*step));
    return true;
}

}  // namespace

mfa_enrolment begin_mfa(pqxx::connection& conn, const secret_box& box, std::int64_t user_id,
                        const std::string& issuer) {
    pqxx::work tx(conn);
    const auto row =
        tx.exec_params1("SELECT email, mfa_enabled FROM users WHERE id = $1 FOR UPDATE", user_id);
    if (row[1].as<bool>()) {
        throw api::conflict("mfa_already_enabled", "Two-factor authentication is already enabled");
    }
    const auto secret = totp::generate_secret();
    const std::string sealed = box.seal(secret);
    tx.exec_params("UPDATE users SET mfa_pending = $2 WHERE id = $1", user_id,
                   pqxx::binarystring(sealed.data(), sealed.size()));
    tx.commit();
    return {totp::base32_encode(secret, false),
            totp::otpauth_uri(issuer, row[0].as<std::string>(), secret)};
}

std::vector<std::string> confirm_mfa(pqxx::work& tx, const secret_box& box, std::int64_t user_id,
                                     const std::string& code) {
    require_six_digits(code);
    const auto row = tx.exec_params1(
        "SELECT mfa_enabled, mfa_pending IS NULL FROM users WHERE id = $1 "
        "FOR UPDATE",
        user_id);
    if (row[0].as<bool>()) {
        throw api::conflict("mfa_already_enabled", "Two-factor authentication is already enabled");
    }
    if (row[1].as<bool>()) {
        throw api::conflict("mfa_not_started", "Start enrolment with /account/mfa/enable first");
    }
    if (!check_totp(tx, box, user_id, code, "mfa_pending")) {
        throw api::bad_request("The code does not match; check the authenticator's clock");
    }
    tx.exec_params(
        "UPDATE users SET mfa_secret = mfa_pending, mfa_pending = NULL, mfa_enabled = true "
        "WHERE id = $1",
        user_id);
    tx.exec_params("DELETE FROM mfa_recovery_codes WHERE user_id = $1", user_id);
    auto codes = totp::generate_recovery_codes();
    for (const auto& c : codes) {
        tx.exec_params("INSERT INTO mfa_recovery_codes (user_id, code_hash) VALUES ($1, $2)",
                       user_id, *totp::hash_recovery_code(c));
    }
    return codes;
}

void disable_mfa(pqxx::work& tx, const secret_box& box, std::int64_t user_id,
                 const std::string& code) {
    require_six_digits(code);
    if (!check_totp(tx, box, user_id, code, "mfa_secret")) {
        throw api::bad_request("The code does not match");
    }
    tx.exec_params(
        "UPDATE users SET mfa_enabled = false, mfa_secret = NULL, mfa_pending = NULL, "
        "mfa_last_step = NULL WHERE id = $1",
        user_id);
    tx.exec_params("DELETE FROM mfa_recovery_codes WHERE user_id = $1", user_id);
}

bool check_second_factor(pqxx::work& tx, const secret_box& box, std::int64_t user_id,
                         const std::string& code) {
    if (six_digits(code)) return check_totp(tx, box, user_id, code, "mfa_secret");
    const auto hash = totp::hash_recovery_code(code);
    if (!hash) return false;
    const auto used = tx.exec_params(
        "UPDATE mfa_recovery_codes SET used_at = now() "
        "WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL RETURNING 1",
        user_id, *hash);
    return !used.empty();
}

}  // namespace vpsfleet::auth
