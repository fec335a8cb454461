#pragma once
// Operator permissions (LNVPS "resource::action"): a user's roles grant patterns, where "*" on
// either side matches anything ("users::*", "*::view", "*::*").
#include <pqxx/pqxx>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vpsfleet::auth {

bool grants(std::string_view pattern, std::string_view permission);
bool allows(const std::vector<std::string>& granted, std::string_view permission);

// The permissions of the user's active (unexpired) roles.
std::vector<std::string> permissions_of(pqxx::work& tx, std::int64_t user_id);

// A syntactically valid "resource::action" (lower case, digits, '_', or '*').
bool valid_permission(std::string_view permission);

}  // namespace vpsfleet::auth
