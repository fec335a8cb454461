#include "coordinator/ipam/access_policy.hpp"

#include "coordinator/auth/key_ring.hpp"
#include "coordinator/ipam/ipam_error.hpp"

#if __has_include("coordinator/ipam/router_client.hpp")
#include "coordinator/ipam/router_client.hpp"
#define VPSFLEET_HAS_ROUTER_CLIENT 1
#endif

namespace vpsfleet::ipam {

namespace {

#ifdef VPSFLEET_HAS_ROUTER_CLIENT
std::string open_token(pqxx::connection& conn, const settings& s, const arp_target& t) {
    if (!s.keys) throw ipam_error("router_unsupported", "no key ring to open router tokens with");
    const auto plain = s.keys->box(conn).open(t.sealed_token);
    if (!plain) {
        throw ipam_error("router_token_unreadable", "the token of router '" + t.router_name +
                                                        "' cannot be opened with the current key");
    }
    return {plain->begin(), plain->end()};
}

std::unique_ptr<router_client> client_for(pqxx::connection& conn, const settings& s,
                                          const arp_target& t) {
    router_config config;
    config.kind = t.router_kind;
    config.url = t.router_url;
    config.token = open_token(conn, s, t);
    return make_router_client(config);
}

bool same_mac(const std::string& a, const std::string& b) {
    const auto x = parse_mac(a);
    return x && x == parse_mac(b);
}

ipam_error from_router(const arp_target& t, const router_error& e) {
    return ipam_error("router_" + e.code, "router '" + t.router_name + "': " + e.what());
}
#else
[[noreturn]] void unsupported(const arp_target& t) {
    throw ipam_error("router_unsupported", "router '" + t.router_name + "' (" + t.router_kind +
                                               "): this build has no router client");
}
#endif

}  // namespace

std::optional<arp_target> arp_target_of(pqxx::transaction_base& tx, std::int64_t assignment_id) {
    const auto rows = tx.exec_params(
        "SELECT host(a.ip), i.mac, COALESCE(p.interface, ''), i.uid, r.name, r.kind, r.url, "
        "r.token, a.arp_ref FROM vm_ip_assignments a JOIN instances i ON i.id = a.instance_id "
        "JOIN ip_ranges g ON g.id = a.ip_range_id "
        "JOIN access_policies p ON p.id = g.access_policy_id AND p.kind = 'static_arp' "
        "JOIN routers r ON r.id = p.router_id AND r.enabled WHERE a.id = $1",
        assignment_id);
    if (rows.empty()) return std::nullopt;
    const auto& r = rows[0];
    arp_target t;
    t.assignment_id = assignment_id;
    t.ip = r[0].as<std::string>();
    t.mac = r[1].as<std::string>();
    t.interface = r[2].as<std::string>();
    t.comment = "vpsfleet " + r[3].as<std::string>();
    t.router_name = r[4].as<std::string>();
    t.router_kind = r[5].as<std::string>();
    t.router_url = r[6].as<std::string>();
    t.sealed_token = pqxx::binarystring(r[7]).str();
    if (!r[8].is_null()) t.arp_ref = r[8].as<std::string>();
    return t;
}

std::string add_arp_entry(pqxx::connection& conn, const settings& s, const arp_target& target) {
#ifdef VPSFLEET_HAS_ROUTER_CLIENT
    try {
        const auto client = client_for(conn, s, target);
        return client->add_arp({target.ip, target.mac, target.interface, target.comment});
    } catch (const router_error& e) {
        throw from_router(target, e);
    }
#else
    (void)conn;
    (void)s;
    unsupported(target);
#endif
}

std::optional<std::string> find_arp_entry(pqxx::connection& conn, const settings& s,
                                          const arp_target& target) {
#ifdef VPSFLEET_HAS_ROUTER_CLIENT
    try {
        for (const auto& [ref, entry] : client_for(conn, s, target)->list_arp()) {
            if (entry.ip == target.ip && same_mac(entry.mac, target.mac)) return ref;
        }
        return std::nullopt;
    } catch (const router_error& e) {
        throw from_router(target, e);
    }
#else
    (void)conn;
    (void)s;
    unsupported(target);
#endif
}

void remove_arp_entry(pqxx::connection& conn, const settings& s, const arp_target& target,
                      const std::string& arp_ref) {
#ifdef VPSFLEET_HAS_ROUTER_CLIENT
    try {
        client_for(conn, s, target)->remove_arp(arp_ref);
    } catch (const router_error& e) {
        throw from_router(target, e);
    }
#else
    (void)conn;
    (void)s;
    (void)arp_ref;
    unsupported(target);
#endif
}

}  // namespace vpsfleet::ipam
