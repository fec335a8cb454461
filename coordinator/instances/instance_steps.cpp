#include "coordinator/instances/instance_steps.hpp"

namespace vpsfleet::instances {

std::int64_t instance_id(const jobs::step_context& ctx) {
    return ctx.args().at("instance_id").get<std::int64_t>();
}

instance_row read_instance(pqxx::connection& conn, std::int64_t id) {
    pqxx::read_transaction tx(conn);
    const auto r = tx.exec_params1(
        "SELECT uid, host_id, allocation_id, libvirt_uuid::text, mac FROM instances WHERE id = $1",
        id);
    return {id,
            r[0].as<std::string>(),
            r[1].is_null() ? std::nullopt : std::optional<std::int64_t>(r[1].as<std::int64_t>()),
            r[2].is_null() ? std::nullopt : std::optional<std::int64_t>(r[2].as<std::int64_t>()),
            r[3].as<std::string>(),
            r[4].as<std::string>()};
}

void record_error(pqxx::connection& conn, std::int64_t id, const std::string& code,
                  const std::string& message, bool broken) {
    pqxx::work tx(conn);
    tx.exec_params(
        "UPDATE instances SET error_code = $2, error_message = $3, "
        "status = CASE WHEN $4 THEN 'error' ELSE status END WHERE id = $1 AND deleted_at IS NULL",
        id, code, message, broken);
    tx.commit();
}

}  // namespace vpsfleet::instances
