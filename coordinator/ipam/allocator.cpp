#include "coordinator/ipam/allocator.hpp"

#include "coordinator/ipam/ipam_error.hpp"

#include <algorithm>
#include <random>

namespace vpsfleet::ipam {

namespace {

std::mt19937_64& thread_rng() {
    thread_local std::mt19937_64 rng{[] {
        std::random_device rd;
        return (std::uint64_t(rd()) << 32) ^ rd();
    }()};
    return rng;
}

address must_parse(const std::string& text) {
    const auto a = parse_address(text);
    if (!a) throw std::runtime_error("unreadable address from the database: " + text);
    return *a;
}

std::chrono::milliseconds::rep millis(std::chrono::milliseconds d) { return d.count(); }

const char* family_name(int family) { return family == 4 ? "IPv4" : "IPv6"; }

allocation allocation_of(const pqxx::row& r) {
    return {r[0].as<std::int64_t>(), r[1].as<std::int64_t>(), r[2].as<int>(),
            r[3].as<std::string>(),  r[4].as<int>(),          r[5].as<std::string>()};
}

}  // namespace

range_info read_range(pqxx::transaction_base& tx, std::int64_t range_id, bool lock) {
    const auto rows = tx.exec_params(
        std::string("SELECT r.id, r.region_id, r.enabled, r.access_policy_id, r.cidr::text, "
                    "host(r.gateway), r.allocation_mode, r.use_full_range, "
                    "array_to_string(ARRAY(SELECT host(x) FROM unnest(r.reserved) x), ',') "
                    "FROM ip_ranges r WHERE r.id = $1") +
            (lock ? " FOR UPDATE" : ""),
        range_id);
    if (rows.empty()) {
        throw ipam_error("range_not_found", "IP range " + std::to_string(range_id) + " not found");
    }
    const auto& r = rows[0];
    range_info out;
    out.id = r[0].as<std::int64_t>();
    out.region_id = r[1].as<std::int64_t>();
    out.enabled = r[2].as<bool>();
    if (!r[3].is_null()) out.access_policy_id = r[3].as<std::int64_t>();
    const auto cidr = parse_cidr(r[4].as<std::string>());
    if (!cidr)
        throw std::runtime_error("unreadable CIDR from the database: " + r[4].as<std::string>());
    out.rules.cidr = *cidr;
    out.rules.gateway = must_parse(r[5].as<std::string>());
    out.rules.mode =
        parse_allocation_mode(r[6].as<std::string>()).value_or(allocation_mode::sequential);
    out.rules.use_full_range = r[7].as<bool>();
    const std::string reserved = r[8].as<std::string>();
    for (std::size_t start = 0; start < reserved.size();) {
        const auto comma = reserved.find(',', start);
        const auto end = comma == std::string::npos ? reserved.size() : comma;
        out.rules.reserved.push_back(must_parse(reserved.substr(start, end - start)));
        start = end + 1;
    }
    return out;
}

bool address_taken(pqxx::transaction_base& tx, const address& a,
                   std::optional<std::int64_t> except_assignment) {
    return !tx.exec_params(
                  "SELECT 1 FROM vm_ip_assignments WHERE ip = $1::inet AND deleted_at IS NULL "
                  "AND id <> $2",
                  to_string(a), except_assignment.value_or(0))
                .empty();
}

allocation allocate(pqxx::work& tx, const allocation_request& request,
                    std::chrono::milliseconds cooldown) {
    const range_info range = read_range(tx, request.range_id, true);
    const auto& rules = range.rules;
    if (!range.enabled) {
        throw ipam_error("range_disabled", "the range " + to_string(rules.cidr) + " is disabled");
    }
    address chosen;
    if (request.ip) {
        const auto wanted = parse_address(*request.ip);
        if (!wanted) {
            throw ipam_error("invalid_address", "'" + *request.ip + "' is not an IP address");
        }
        require_usable(rules, *wanted);
        chosen = *wanted;
    } else {
        pick_input in;
        in.mac = parse_mac(request.mac);
        // SLAAC's address follows from the MAC: only that one address is looked up below.
        if (rules.mode != allocation_mode::slaac_eui64) {
            for (const auto& row :
                 tx.exec_params("SELECT host(ip), deleted_at IS NULL FROM vm_ip_assignments "
                                "WHERE ip <<= $1::cidr AND (deleted_at IS NULL "
                                "OR deleted_at > now() - $2::bigint * interval '1 millisecond')",
                                to_string(rules.cidr), millis(cooldown))) {
                const u128 value = must_parse(row[0].as<std::string>()).value;
                (row[1].as<bool>() ? in.live : in.cooling).push_back(value);
            }
        }
        chosen = pick_address(rules, std::move(in), thread_rng());
    }
    if (address_taken(tx, chosen)) {
        throw ipam_error("ip_taken", to_string(chosen) + " is already assigned");
    }
    const auto id = tx.exec_params1(
                          "INSERT INTO vm_ip_assignments (instance_id, ip_range_id, ip, arp_ref, "
                          "dns_forward, dns_reverse) VALUES ($1, $2, $3::inet, $4, $5, $6) "
                          "RETURNING id",
                          request.instance_id, range.id, to_string(chosen), request.arp_ref,
                          request.dns_forward, request.dns_reverse)[0]
                        .as<std::int64_t>();
    return {id,
            range.id,
            chosen.family,
            to_string(chosen),
            rules.cidr.prefix,
            to_string(rules.gateway)};
}

std::vector<allocation> instance_addresses(pqxx::transaction_base& tx, std::int64_t instance_id) {
    std::vector<allocation> out;
    for (const auto& r : tx.exec_params(
             "SELECT a.id, a.ip_range_id, family(a.ip), host(a.ip), masklen(g.cidr), "
             "host(g.gateway) FROM vm_ip_assignments a JOIN ip_ranges g ON g.id = a.ip_range_id "
             "WHERE a.instance_id = $1 AND a.deleted_at IS NULL ORDER BY family(a.ip), a.id",
             instance_id)) {
        out.push_back(allocation_of(r));
    }
    return out;
}

std::vector<allocation> assign_for_instance(pqxx::work& tx, std::int64_t instance_id,
                                            std::int64_t host_id, const std::string& mac,
                                            std::chrono::milliseconds cooldown) {
    const auto held = instance_addresses(tx, instance_id);
    const auto region = tx.exec_params1(
        "SELECT g.id, g.name FROM hosts h JOIN regions g ON g.id = h.region_id WHERE h.id = $1",
        host_id);
    const auto region_id = region[0].as<std::int64_t>();
    const std::string region_name = region[1].as<std::string>();
    for (const int family : {4, 6}) {
        const bool has = std::any_of(held.begin(), held.end(),
                                     [family](const allocation& a) { return a.family == family; });
        if (has) continue;
        const auto ranges = tx.exec_params(
            "SELECT id FROM ip_ranges WHERE region_id = $1 AND enabled AND family(cidr) = $2 "
            "ORDER BY id",
            region_id, family);
        if (ranges.empty()) {
            if (family == 6) continue;
            throw ipam_error("no_ip_range", "region '" + region_name +
                                                "' has no enabled IPv4 range to assign from");
        }
        std::string why;
        bool assigned = false;
        for (const auto& r : ranges) {
            allocation_request request;
            request.range_id = r[0].as<std::int64_t>();
            request.instance_id = instance_id;
            request.mac = mac;
            try {
                allocate(tx, request, cooldown);
                assigned = true;
                break;
            } catch (const ipam_error& e) {
                why += (why.empty() ? "" : "; ") + std::string(e.what());
            }
        }
        if (!assigned) {
            throw ipam_error("no_ip_available", std::string("no ") + family_name(family) +
                                                    " range of region '" + region_name +
                                                    "' has a free address (" + why + ")");
        }
    }
    return instance_addresses(tx, instance_id);
}

std::vector<std::int64_t> release_for_instance(pqxx::work& tx, std::int64_t instance_id) {
    std::vector<std::int64_t> ids;
    for (const auto& r :
         tx.exec_params("UPDATE vm_ip_assignments SET deleted_at = now() "
                        "WHERE instance_id = $1 AND deleted_at IS NULL RETURNING id",
                        instance_id)) {
        ids.push_back(r[0].as<std::int64_t>());
    }
    return ids;
}

}  // namespace vpsfleet::ipam
