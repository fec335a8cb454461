#include "coordinator/auth/rbac.hpp"

#include <algorithm>

namespace vpsfleet::auth {

namespace {

std::pair<std::string_view, std::string_view> split(std::string_view p) {
    const auto sep = p.find("::");
    if (sep == std::string_view::npos) return {p, {}};
    return {p.substr(0, sep), p.substr(sep + 2)};
}

bool part_ok(std::string_view part) {
    if (part == "*") return true;
    return !part.empty() && std::ranges::all_of(part, [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

}  // namespace

bool grants(std::string_view pattern, std::string_view permission) {
    const auto [pr, pa] = split(pattern);
    const auto [r, a] = split(permission);
    return (pr == "*" || pr == r) && (pa == "*" || pa == a);
}

bool allows(const std::vector<std::string>& granted, std::string_view permission) {
    return std::ranges::any_of(granted,
                               [permission](const auto& g) { return grants(g, permission); });
}

std::vector<std::string> permissions_of(pqxx::work& tx, std::int64_t user_id) {
    std::vector<std::string> out;
    for (const auto& r : tx.exec_params(
             "SELECT DISTINCT unnest(r.permissions) FROM user_roles ur "
             "JOIN roles r ON r.id = ur.role_id "
             "WHERE ur.user_id = $1 AND (ur.expires_at IS NULL OR ur.expires_at > now())",
             user_id)) {
        out.push_back(r[0].as<std::string>());
    }
    return out;
}

bool valid_permission(std::string_view permission) {
    if (permission.find("::") == std::string_view::npos) return false;
    const auto [r, a] = split(permission);
    return part_ok(r) && part_ok(a);
}

}  // namespace vpsfleet::auth
