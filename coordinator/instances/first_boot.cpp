#include "coordinator/instances/first_boot.hpp"

#include <crypt.h>

#include <memory>
#include <stdexcept>

namespace vpsfleet::instances {

std::string sha512_crypt(const std::string& password) {
    char salt[CRYPT_GENSALT_OUTPUT_SIZE];
    // No random bytes given: libxcrypt takes them from the operating system.
    if (crypt_gensalt_rn("$6$", 0, nullptr, 0, salt, sizeof salt) == nullptr) {
        throw std::runtime_error("crypt_gensalt failed");
    }
    const auto data = std::make_unique<crypt_data>();
    const char* hash = crypt_r(password.c_str(), salt, data.get());
    if (hash == nullptr || hash[0] == '*') throw std::runtime_error("crypt failed");
    return hash;
}

nlohmann::json first_boot_cloud_init(pqxx::transaction_base& tx, std::int64_t instance_id,
                                     const auth::secret_box* box) {
    const auto r = tx.exec_params1(
        "SELECT i.name, i.ssh_keys_snapshot::text, i.root_password, img.default_user, "
        "app.user_data FROM instances i JOIN os_images img ON img.id = i.image_id "
        "LEFT JOIN apps app ON app.id = i.app_id WHERE i.id = $1",
        instance_id);
    nlohmann::json user = {{"name", r[3].as<std::string>()},
                           {"ssh_keys", nlohmann::json::parse(r[1].as<std::string>())},
                           {"sudo", true}};
    if (box != nullptr && !r[2].is_null()) {
        const pqxx::binarystring sealed(r[2]);
        if (const auto plain = box->open(sealed.str())) {
            user["password_hash"] = sha512_crypt(std::string(plain->begin(), plain->end()));
        }
    }
    nlohmann::json out = {{"hostname", r[0].as<std::string>()},
                          {"users", nlohmann::json::array({user})}};
    if (!r[4].is_null()) out["user_data"] = r[4].as<std::string>();
    return out;
}

}  // namespace vpsfleet::instances
