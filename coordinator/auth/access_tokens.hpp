#pragma once
// Short-lived access tokens: compact JWTs (HS256) signed with a key every coordinator process
// shares through the database. Nothing about them is stored; revocation is by expiry, which is
// why they live minutes and refresh tokens carry the session.
#include <pqxx/pqxx>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vpsfleet::auth {

struct access_claims {
    std::int64_t user_id = 0;
    std::string user_uid;
    std::string family;  // the refresh-token family (session) it was issued with
    std::int64_t issued_at = 0;
    std::int64_t expires_at = 0;
};

class token_signer {
  public:
    explicit token_signer(std::vector<unsigned char> key);

    std::string sign(const access_claims& claims) const;
    // The claims when the signature is ours, the token is an access token and it has not expired.
    std::optional<access_claims> verify(std::string_view token, std::int64_t now_unix) const;

  private:
    std::vector<unsigned char> key_;
};

// The named secret from auth_keys, created (randomly, once, race-free) on first use.
std::vector<unsigned char> load_or_create_key(pqxx::connection& conn, const std::string& name,
                                              std::size_t bytes = 32);

std::int64_t unix_now();

}  // namespace vpsfleet::auth
