#pragma once
// Who is calling: nobody, a signed-in user (access token), or a project API key acting for its
// owner with the key's permission bits.
#include <cstdint>
#include <string>

namespace vpsfleet::auth {

struct principal {
    enum class kind { anonymous, user, api_key };
    kind type = kind::anonymous;
    std::int64_t user_id = 0;
    std::string user_uid;
    std::int64_t api_key_id = 0;
    std::int64_t project_id = 0;  // the key's project
    std::string project_uid;
    std::uint64_t key_permissions = 0;

    bool anonymous() const { return type == kind::anonymous; }
    // The rate-limit bucket: the key, else the user, else empty (the caller uses the address).
    std::string bucket() const {
        if (type == kind::api_key) return "key:" + std::to_string(api_key_id);
        if (type == kind::user) return "user:" + std::to_string(user_id);
        return {};
    }
};

}  // namespace vpsfleet::auth
