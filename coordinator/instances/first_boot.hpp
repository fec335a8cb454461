#pragma once
// What an instance's first boot is told through cloud-init: its hostname (the instance's name)
// and the image's default user with the SSH keys the customer ordered it with and the instance's
// generated password, sent as a SHA-512 crypt(3) hash so the password itself never leaves the
// coordinator. An instance ordered from an app also gets the app's user-data (its install
// script), which the agent adds as a second part of the seed's user-data.
#include "coordinator/auth/secret_box.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <cstdint>
#include <string>

namespace vpsfleet::instances {

// The vm.define `cloud_init` argument for the instance. Without a box (or once the password was
// acknowledged) the user gets its keys only.
nlohmann::json first_boot_cloud_init(pqxx::transaction_base& tx, std::int64_t instance_id,
                                     const auth::secret_box* box);

// "$6$<salt>$<hash>", with a fresh random salt each call.
std::string sha512_crypt(const std::string& password);

}  // namespace vpsfleet::instances
