#pragma once
// The audit trail: every mutating request writes who did what to which object, with the object
// before and after, in the same transaction as the change itself (so a rolled-back change leaves
// no entry and a committed one always has one).
#include "coordinator/auth/principal.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <string>
#include <string_view>

namespace vpsfleet::audit {

struct entry {
    std::string action;       // e.g. "role.create", "vm.start"
    std::string target_type;  // e.g. "role", "vm"
    std::string target_id;
    nlohmann::json before = nullptr;
    nlohmann::json after = nullptr;
};

void record(pqxx::work& tx, const auth::principal& actor, const std::string& request_id,
            const entry& e);

}  // namespace vpsfleet::audit
