#include "coordinator/firewall/rule_store.hpp"

#include "common/secrets.hpp"

namespace vpsfleet::firewall {

namespace {

const char* const k_columns =
    "id, uid, position, direction, action, proto, source, dest, sport, dport, comment, enabled ";

std::optional<std::string> text(const pqxx::field& f) {
    return f.is_null() ? std::nullopt : std::optional<std::string>(f.as<std::string>());
}

stored_rule from_row(const pqxx::row& r) {
    stored_rule out;
    out.id = r[0].as<std::int64_t>();
    out.value.uid = r[1].as<std::string>();
    out.value.position = r[2].as<int>();
    out.value.direction = r[3].as<std::string>();
    out.value.action = r[4].as<std::string>();
    out.value.proto = text(r[5]);
    out.value.source = text(r[6]);
    out.value.dest = text(r[7]);
    out.value.sport = text(r[8]);
    out.value.dport = text(r[9]);
    out.value.comment = text(r[10]);
    out.value.enabled = r[11].as<bool>();
    return out;
}

}  // namespace

std::vector<rule> load_rules(pqxx::transaction_base& tx, std::int64_t instance_id) {
    std::vector<rule> out;
    for (const auto& row : tx.exec_params(std::string("SELECT ") + k_columns +
                                              "FROM firewall_rules WHERE instance_id = $1 "
                                              "ORDER BY position",
                                          instance_id))
        out.push_back(from_row(row).value);
    return out;
}

std::optional<stored_rule> find_rule(pqxx::transaction_base& tx, std::int64_t instance_id,
                                     const std::string& uid) {
    const auto rows = tx.exec_params(std::string("SELECT ") + k_columns +
                                         "FROM firewall_rules WHERE instance_id = $1 AND uid = $2",
                                     instance_id, uid);
    if (rows.empty()) return std::nullopt;
    return from_row(rows[0]);
}

rule insert_rule(pqxx::work& tx, std::int64_t instance_id, const rule& r) {
    const auto row = tx.exec_params1(
        std::string(
            "INSERT INTO firewall_rules (uid, instance_id, position, direction, action, "
            "proto, source, dest, sport, dport, comment, enabled) "
            "SELECT $1::text, $2::bigint, COALESCE(MAX(position), 0) + 1, $3::text, $4::text, "
            "$5::text, $6::text, $7::text, $8::text, $9::text, $10::text, $11::boolean "
            "FROM firewall_rules WHERE instance_id = $2 RETURNING ") +
            k_columns,
        secrets::random_token("fwr_", 9), instance_id, r.direction, r.action, r.proto, r.source,
        r.dest, r.sport, r.dport, r.comment, r.enabled);
    return from_row(row).value;
}

void update_rule(pqxx::work& tx, std::int64_t id, const rule& r) {
    tx.exec_params(
        "UPDATE firewall_rules SET direction = $2, action = $3, proto = $4, source = $5, "
        "dest = $6, sport = $7, dport = $8, comment = $9, enabled = $10, updated_at = now() "
        "WHERE id = $1",
        id, r.direction, r.action, r.proto, r.source, r.dest, r.sport, r.dport, r.comment,
        r.enabled);
}

void move_rule(pqxx::work& tx, std::int64_t instance_id, std::int64_t id, int from, int to) {
    if (from == to) return;
    // One statement, so the unique (instance_id, position) is checked only once all have moved.
    tx.exec_params(
        "UPDATE firewall_rules SET updated_at = now(), position = CASE "
        "WHEN id = $2 THEN $4::int "
        "WHEN $4::int < $3::int THEN position + 1 "
        "ELSE position - 1 END "
        "WHERE instance_id = $1 AND (id = $2 OR position BETWEEN LEAST($3::int, $4::int) AND "
        "GREATEST($3::int, $4::int))",
        instance_id, id, from, to);
}

void delete_rule(pqxx::work& tx, std::int64_t instance_id, std::int64_t id, int position) {
    tx.exec_params("DELETE FROM firewall_rules WHERE id = $1", id);
    tx.exec_params(
        "UPDATE firewall_rules SET position = position - 1 WHERE instance_id = $1 AND "
        "position > $2",
        instance_id, position);
}

}  // namespace vpsfleet::firewall
