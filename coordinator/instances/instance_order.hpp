#pragma once
// Ordering an instance, shared by the customer API (POST /projects/{p}/instances) and the admin
// API (POST /vms, an operator creating a VM for a user): inside the caller's transaction, write
// the instance row (status queued, a fresh domain uuid and MAC, the root password sealed),
// charge its first period from the owner's credits when billing is prepaid, and enqueue the
// instance.create job that places it (scheduler, IPAM), defines and starts it on its host.
#include "coordinator/auth/secret_box.hpp"
#include "coordinator/config.hpp"
#include "coordinator/jobs/job_store.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <cstdint>
#include <optional>
#include <string>

namespace vpsfleet::instances {

struct instance_order {
    std::int64_t project_id = 0;
    std::string name;  // a hostname label, free in the project (the caller checks)
    std::int64_t plan_id = 0;
    std::int64_t image_id = 0;
    std::optional<std::int64_t> app_id;       // its user-data goes to the first boot
    std::optional<std::int64_t> template_id;  // the template it was ordered from
    std::string backup_tier = "none";
    std::string password;                               // sealed into root_password
    nlohmann::json ssh_keys = nlohmann::json::array();  // public keys for cloud-init
    std::optional<std::int64_t> ssh_key_id;             // the account key they came from
    std::optional<std::string> ref_code;
};

struct ordered_instance {
    std::int64_t id = 0;
    std::string uid;
    jobs::enqueued_job job;
};

// Throws billing::billing_error (insufficient_credit, currency_mismatch, plan_unpriced) when
// billing is prepaid and the first period cannot be paid; the caller maps it to its API's error
// and the transaction is not committed. `user_id` is who asked (the job's creator).
ordered_instance order_instance(pqxx::work& tx, const auth::secret_box& box,
                                const coordinator::billing_config& billing,
                                std::optional<std::int64_t> user_id, const instance_order& order);

// A locally administered MAC in QEMU's 52:54:00 block, from OpenSSL's CSPRNG.
std::string random_mac();

// Whether the image fits on the plan's disk.
bool plan_fits_image(pqxx::transaction_base& tx, std::int64_t plan_id, std::int64_t image_id);

}  // namespace vpsfleet::instances
