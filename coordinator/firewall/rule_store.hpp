#pragma once
// The firewall_rules table (migrations/0011_firewall.sql): an instance's rules in position order,
// and the writes that keep positions dense (1..n). Callers lock the instance row first, so two
// changes to one instance's rules never interleave.
#include "coordinator/firewall/firewall_rules.hpp"

#include <pqxx/pqxx>

#include <cstdint>
#include <optional>
#include <vector>

namespace vpsfleet::firewall {

std::vector<rule> load_rules(pqxx::transaction_base& tx, std::int64_t instance_id);

struct stored_rule {
    std::int64_t id = 0;
    rule value;
};
std::optional<stored_rule> find_rule(pqxx::transaction_base& tx, std::int64_t instance_id,
                                     const std::string& uid);

// Appends the rule (position n + 1) with a new fwr_ uid; returns it as stored.
rule insert_rule(pqxx::work& tx, std::int64_t instance_id, const rule& r);
// Every field but uid and position.
void update_rule(pqxx::work& tx, std::int64_t id, const rule& r);
// Moves a rule from one position to another, shifting those in between by one.
void move_rule(pqxx::work& tx, std::int64_t instance_id, std::int64_t id, int from, int to);
// Deletes a rule and closes the gap it leaves.
void delete_rule(pqxx::work& tx, std::int64_t instance_id, std::int64_t id, int position);

}  // namespace vpsfleet::firewall
