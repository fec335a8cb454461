#include "coordinator/instances/instance_order.hpp"

#include "common/secrets.hpp"
#include "coordinator/billing/billing_settings.hpp"
#include "coordinator/billing/prepaid.hpp"
#include "coordinator/instances/instance_jobs.hpp"
#include "coordinator/instances/instance_requests.hpp"

#include <openssl/rand.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <stdexcept>

namespace vpsfleet::instances {

std::string random_mac() {
    std::array<unsigned char, 3> b{};
    if (RAND_bytes(b.data(), static_cast<int>(b.size())) != 1)
        throw std::runtime_error("RAND_bytes failed");
    char out[18];
    std::snprintf(out, sizeof out, "52:54:00:%02x:%02x:%02x", b[0], b[1], b[2]);
    return out;
}

bool plan_fits_image(pqxx::transaction_base& tx, std::int64_t plan_id, std::int64_t image_id) {
    return tx
        .exec_params1(
            "SELECT p.disk_gb >= img.min_disk_gb FROM plans p, os_images img "
            "WHERE p.id = $1 AND img.id = $2",
            plan_id, image_id)[0]
        .as<bool>();
}

ordered_instance order_instance(pqxx::work& tx, const auth::secret_box& box,
                                const coordinator::billing_config& billing,
                                std::optional<std::int64_t> user_id, const instance_order& order) {
    const std::string uid = secrets::random_token("ins_", 9);
    const std::string sealed =
        box.seal(std::vector<unsigned char>(order.password.begin(), order.password.end()));
    const auto id =
        tx.exec_params1(
              "INSERT INTO instances (uid, project_id, name, plan_id, image_id, backup_tier, "
              "libvirt_uuid, mac, ssh_keys_snapshot, root_password, ssh_key_id, ref_code, app_id, "
              "template_id) VALUES ($1, $2, $3, $4, $5, $6, gen_random_uuid(), $7, $8::jsonb, $9, "
              "$10, $11, $12, $13) RETURNING id",
              uid, order.project_id, order.name, order.plan_id, order.image_id, order.backup_tier,
              random_mac(), order.ssh_keys.dump(), pqxx::binarystring(sealed.data(), sealed.size()),
              order.ssh_key_id, order.ref_code, order.app_id, order.template_id)[0]
            .as<std::int64_t>();
    if (billing.prepaid) {
        billing::pay_period_from_credits(tx, id, std::chrono::system_clock::now(), billing.currency,
                                         "First period of " + order.name,
                                         billing::taxes_of(billing));
    }
    // A new instance has no other job open, so this is never refused.
    const auto job = enqueue_exclusive(tx, user_id, {id, uid, order.project_id}, k_create_kind,
                                       {{"instance_id", id}});
    if (!job) throw std::logic_error("a new instance already has an open job");
    return {id, uid, *job};
}

}  // namespace vpsfleet::instances
