#include "coordinator/api/admin/ipam_routes.hpp"

#include "coordinator/store/json_fields.hpp"

#include "coordinator/api/admin/read_routes.hpp"
#include "coordinator/api/admin/role_routes.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/ipam/allocator.hpp"

namespace vpsfleet::api::admin {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

api_error ipam_refusal(const ipam::ipam_error& e) {
    const bool conflicting = e.code == "ip_taken" || e.code == "range_exhausted" ||
                             e.code == "no_ip_available" || e.code == "range_disabled";
    return {conflicting ? http::status::conflict : http::status::bad_request, e.code, e.what()};
}

namespace {

using store::int_or_null;
using store::text_or_null;

std::optional<std::string> name_field(const json& body, bool required) {
    auto name =
        required ? std::optional(required_string(body, "name")) : optional_string(body, "name");
    if (name && (name->empty() || name->size() > 100)) {
        throw bad_request("name must be 1-100 characters");
    }
    return name;
}

std::optional<std::string> choice(const json& body, const std::string& field,
                                  std::initializer_list<const char*> allowed) {
    auto value = optional_string(body, field);
    if (!value) return value;
    for (const char* a : allowed) {
        if (*value == a) return value;
    }
    throw bad_request(field + " has an unknown value '" + *value + "'");
}

// A field that is absent (keep), null (clear) or set.
template <class T>
struct nullable {
    bool present = false;
    std::optional<T> value;
};
nullable<std::int64_t> nullable_int(const json& body, const std::string& field) {
    return {body.contains(field), optional_int(body, field)};
}
nullable<std::string> nullable_string(const json& body, const std::string& field, std::size_t max) {
    nullable<std::string> out{body.contains(field), optional_string(body, field)};
    if (out.value && (out.value->empty() || out.value->size() > max)) {
        throw bad_request(field + " must be 1-" + std::to_string(max) + " characters or null");
    }
    return out;
}

void require_row(pqxx::work& tx, const char* table, const char* what, std::int64_t id) {
    if (tx.exec_params(std::string("SELECT 1 FROM ") + table + " WHERE id = $1", id).empty()) {
        throw bad_request(std::string(what) + " " + std::to_string(id) + " does not exist");
    }
}

// ---- ip ranges ---------------------------------------------------------------------------

const std::string k_range_select =
    "SELECT r.id, r.cidr::text, host(r.gateway), r.enabled, r.region_id, g.name, "
    "r.reverse_zone_id, r.access_policy_id, p.name, r.allocation_mode, r.use_full_range, "
    "(SELECT count(*) FROM vm_ip_assignments a WHERE a.ip_range_id = r.id "
    "AND a.deleted_at IS NULL), "
    "array_to_json(ARRAY(SELECT host(x) FROM unnest(r.reserved) x))::text "
    "FROM ip_ranges r JOIN regions g ON g.id = r.region_id "
    "LEFT JOIN access_policies p ON p.id = r.access_policy_id ";

// AdminIpRangeInfo, plus `reserved` (the addresses never handed out).
json range_json(const pqxx::row& r) {
    return {{"id", r[0].as<std::int64_t>()},
            {"cidr", r[1].as<std::string>()},
            {"gateway", r[2].as<std::string>()},
            {"enabled", r[3].as<bool>()},
            {"region_id", r[4].as<std::int64_t>()},
            {"region_name", text_or_null(r[5])},
            {"reverse_zone_id", text_or_null(r[6])},
            {"access_policy_id", int_or_null(r[7])},
            {"access_policy_name", text_or_null(r[8])},
            {"allocation_mode", r[9].as<std::string>()},
            {"use_full_range", r[10].as<bool>()},
            {"assignment_count", r[11].as<std::int64_t>()},
            {"reserved", json::parse(r[12].as<std::string>())}};
}

json read_range_json(pqxx::work& tx, std::int64_t id) {
    return read_one(tx, k_range_select + "WHERE r.id = $1", id, "ip_range_not_found",
                    "IP range not found", range_json);
}

// An ip_ranges row as a request leaves it.
struct range_fields {
    ipam::range_rules rules;
    bool enabled = true;
    std::int64_t region_id = 0;
    std::optional<std::string> reverse_zone_id;
    std::optional<std::int64_t> access_policy_id;
};

ipam::address address_field(const std::string& field, const std::string& text) {
    const auto a = ipam::parse_address(text);
    if (!a) {
        throw bad_request(field + " must be an IP address such as 192.0.2.1 or 2001:db8::1, not '" +
                          text + "'");
    }
    return *a;
}

// Applies the request's fields (on create: cidr, gateway and region_id are required).
void apply_range_body(const json& body, range_fields& f, bool create) {
    const auto cidr = optional_string(body, "cidr");
    const auto gateway = optional_string(body, "gateway");
    const auto region_id = optional_int(body, "region_id");
    if (create && (!cidr || !gateway || !region_id)) {
        throw bad_request("cidr, gateway and region_id are required");
    }
    if (cidr) {
        const auto n = ipam::parse_cidr(*cidr);
        if (!n) {
            throw bad_request(
                "cidr must be a network such as 192.0.2.0/24 or 2001:db8::/64 "
                "(no bits set after the prefix), not '" +
                *cidr + "'");
        }
        f.rules.cidr = *n;
    }
    if (gateway) f.rules.gateway = address_field("gateway", *gateway);
    if (region_id) f.region_id = *region_id;
    if (const auto enabled = optional_bool(body, "enabled")) f.enabled = *enabled;
    if (const auto zone = nullable_string(body, "reverse_zone_id", 255); zone.present) {
        f.reverse_zone_id = zone.value;
    }
    if (const auto policy = nullable_int(body, "access_policy_id"); policy.present) {
        f.access_policy_id = policy.value;
    }
    if (const auto mode =
            choice(body, "allocation_mode", {"sequential", "random", "slaac_eui64"})) {
        f.rules.mode = *ipam::parse_allocation_mode(*mode);
    }
    if (const auto full = optional_bool(body, "use_full_range")) f.rules.use_full_range = *full;
    if (body.contains("reserved")) {
        const json& list = body["reserved"];
        if (!list.is_null() && !list.is_array()) {
            throw bad_request("reserved must be a list of IP addresses");
        }
        f.rules.reserved.clear();
        for (const auto& item : list.is_array() ? list : json::array()) {
            if (!item.is_string()) throw bad_request("reserved must be a list of IP addresses");
            f.rules.reserved.push_back(address_field("reserved", item.get<std::string>()));
        }
    }
    try {
        ipam::check_rules(f.rules);
    } catch (const ipam::ipam_error& e) {
        throw bad_request(e.what());
    }
}

std::string inet_array(const std::vector<ipam::address>& list) {
    std::string out = "{";
    for (const auto& a : list) out += (out.size() > 1 ? "," : "") + ipam::to_string(a);
    return out + "}";
}

void check_references(pqxx::work& tx, const range_fields& f, std::int64_t self) {
    require_row(tx, "regions", "region", f.region_id);
    if (f.access_policy_id) {
        require_row(tx, "access_policies", "access policy", *f.access_policy_id);
    }
    const auto other = tx.exec_params(
        "SELECT id, cidr::text FROM ip_ranges WHERE cidr && $1::cidr AND id <> $2 LIMIT 1",
        ipam::to_string(f.rules.cidr), self);
    if (!other.empty()) {
        throw conflict("range_overlaps", ipam::to_string(f.rules.cidr) + " overlaps IP range " +
                                             other[0][0].as<std::string>() + " (" +
                                             other[0][1].as<std::string>() + ")");
    }
}

// Writes the row; `id` 0 inserts. An overlap the constraint finds (a concurrent write) is a 409.
std::int64_t write_range(pqxx::work& tx, const range_fields& f, std::int64_t id) {
    const std::string cidr = ipam::to_string(f.rules.cidr);
    const std::string gateway = ipam::to_string(f.rules.gateway);
    const std::string mode = ipam::to_string(f.rules.mode);
    const std::string reserved = inet_array(f.rules.reserved);
    try {
        if (id == 0) {
            return tx
                .exec_params1(
                    "INSERT INTO ip_ranges (cidr, gateway, enabled, region_id, reverse_zone_id, "
                    "access_policy_id, allocation_mode, use_full_range, reserved) "
                    "VALUES ($1::cidr, $2::inet, $3, $4, $5, $6, $7, $8, $9::inet[]) RETURNING id",
                    cidr, gateway, f.enabled, f.region_id, f.reverse_zone_id, f.access_policy_id,
                    mode, f.rules.use_full_range, reserved)[0]
                .as<std::int64_t>();
        }
        tx.exec_params(
            "UPDATE ip_ranges SET cidr = $2::cidr, gateway = $3::inet, enabled = $4, "
            "region_id = $5, reverse_zone_id = $6, access_policy_id = $7, allocation_mode = $8, "
            "use_full_range = $9, reserved = $10::inet[] WHERE id = $1",
            id, cidr, gateway, f.enabled, f.region_id, f.reverse_zone_id, f.access_policy_id, mode,
            f.rules.use_full_range, reserved);
        return id;
    } catch (const pqxx::integrity_constraint_violation&) {
        throw conflict("range_overlaps", cidr + " overlaps another IP range");
    }
}

// The range as stored, for a PATCH to start from; locks the row, as an allocation does.
range_fields lock_range_fields(pqxx::work& tx, std::int64_t id) {
    const auto rows =
        tx.exec_params("SELECT reverse_zone_id FROM ip_ranges WHERE id = $1 FOR UPDATE", id);
    if (rows.empty()) throw not_found("ip_range_not_found", "IP range not found");
    const auto stored = ipam::read_range(tx, id);
    range_fields f;
    f.rules = stored.rules;
    f.enabled = stored.enabled;
    f.region_id = stored.region_id;
    f.access_policy_id = stored.access_policy_id;
    if (!rows[0][0].is_null()) f.reverse_zone_id = rows[0][0].as<std::string>();
    return f;
}

// Live assignments must stay usable under the new rules, and in their region.
void check_live_assignments(pqxx::work& tx, std::int64_t id, const range_fields& before,
                            const range_fields& after) {
    const auto live = tx.exec_params(
        "SELECT host(ip) FROM vm_ip_assignments WHERE ip_range_id = $1 AND deleted_at IS NULL "
        "ORDER BY ip",
        id);
    if (live.empty()) return;
    if (after.region_id != before.region_id) {
        throw conflict("range_in_use", "the range has " + std::to_string(live.size()) +
                                           " active assignments; it cannot change region");
    }
    for (const auto& r : live) {
        const auto a = ipam::parse_address(r[0].as<std::string>());
        try {
            if (a) ipam::require_usable(after.rules, *a);
        } catch (const ipam::ipam_error& e) {
            throw conflict(
                "range_in_use",
                r[0].as<std::string>() + " is assigned and would no longer be usable: " + e.what());
        }
    }
}

void add_range_routes(endpoints& api, services& s) {
    api.add(verb::get, "/ip_ranges", access::op("ip_range::view"),
            [&s](http::request& req, const path_params&, call&) -> asio::awaitable<http::response> {
                const auto page = page_params(req);
                std::optional<std::int64_t> region;
                if (const auto text = query_param(req, "region_id")) {
                    try {
                        std::size_t used = 0;
                        region = std::stoll(*text, &used);
                        if (used != text->size()) throw std::invalid_argument(*text);
                    } catch (const std::exception&) {
                        throw bad_request("region_id must be an integer");
                    }
                }
                auto list = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    json items = json::array();
                    for (const auto& r : tx.exec_params(
                             k_range_select + "WHERE $1::bigint IS NULL OR r.region_id = $1 "
                                              "ORDER BY r.id LIMIT $2 OFFSET $3",
                             region, page.limit, page.offset)) {
                        items.push_back(range_json(r));
                    }
                    const auto total = tx.exec_params1(
                                             "SELECT count(*) FROM ip_ranges "
                                             "WHERE $1::bigint IS NULL OR region_id = $1",
                                             region)[0]
                                           .as<std::int64_t>();
                    return admin_page(std::move(items), total, page.limit, page.offset);
                };
                const json out = co_await s.db.run(list);
                co_return json_reply(out);
            });
    add_get_route(api, s, "/ip_ranges/{id}", "ip_range::view", read_range_json);

    api.add(
        verb::post, "/ip_ranges", access::op("ip_range::create"),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const json body = json_body(req);
            range_fields f;
            apply_range_body(body, f, true);
            auto create = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                check_references(tx, f, 0);
                const auto id = write_range(tx, f, 0);
                const json range = read_range_json(tx, id);
                audit::record(tx, c.who, c.request_id,
                              {"ip_range.create", "ip_range", std::to_string(id), nullptr, range});
                tx.commit();
                return range;
            };
            const json range = co_await s.db.run(create);
            co_return json_reply(admin_data(range), http::status::created);
        });

    api.add(
        verb::patch, "/ip_ranges/{id}", access::op("ip_range::update"),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const auto id = id_param(p, "id");
            const json body = json_body(req);
            auto update = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const range_fields stored = lock_range_fields(tx, id);
                range_fields f = stored;
                apply_range_body(body, f, false);
                check_references(tx, f, id);
                check_live_assignments(tx, id, stored, f);
                const json before = read_range_json(tx, id);
                write_range(tx, f, id);
                const json after = read_range_json(tx, id);
                audit::record(tx, c.who, c.request_id,
                              {"ip_range.update", "ip_range", std::to_string(id), before, after});
                tx.commit();
                return after;
            };
            const json range = co_await s.db.run(update);
            co_return json_reply(admin_data(range));
        });

    api.add(verb::delete_, "/ip_ranges/{id}", access::op("ip_range::delete"),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const auto id = id_param(p, "id");
                auto remove = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    lock_range_fields(tx, id);
                    const json before = read_range_json(tx, id);
                    const auto live = before["assignment_count"].get<std::int64_t>();
                    if (live > 0) {
                        throw conflict("range_in_use",
                                       "the IP range has " + std::to_string(live) +
                                           " active IP assignments; unassign them first");
                    }
                    // Released assignments are the range's history; they go with it (the
                    // audit log keeps who had which address).
                    tx.exec_params("DELETE FROM vm_ip_assignments WHERE ip_range_id = $1", id);
                    tx.exec_params("DELETE FROM ip_ranges WHERE id = $1", id);
                    audit::record(
                        tx, c.who, c.request_id,
                        {"ip_range.delete", "ip_range", std::to_string(id), before, nullptr});
                    tx.commit();
                };
                co_await s.db.run(remove);
                co_return json_reply(admin_data(nullptr));
            });
}

// ---- access policies ---------------------------------------------------------------------

const std::string k_policy_select =
    "SELECT p.id, p.name, p.kind, p.router_id, r.name, p.interface, "
    "(SELECT count(*) FROM ip_ranges g WHERE g.access_policy_id = p.id) "
    "FROM access_policies p LEFT JOIN routers r ON r.id = p.router_id ";

// AdminAccessPolicyDetail (lists carry the same detail: router name and range count).
json policy_json(const pqxx::row& r) {
    return {{"id", r[0].as<std::int64_t>()},
            {"name", r[1].as<std::string>()},
            {"kind", r[2].as<std::string>()},
            {"router_id", int_or_null(r[3])},
            {"router_name", text_or_null(r[4])},
            {"interface", text_or_null(r[5])},
            {"ip_range_count", r[6].as<std::int64_t>()}};
}

json read_policy(pqxx::work& tx, std::int64_t id) {
    return read_one(tx, k_policy_select + "WHERE p.id = $1", id, "access_policy_not_found",
                    "access policy not found", policy_json);
}

struct policy_body {
    std::optional<std::string> name;
    std::optional<std::string> kind;
    nullable<std::int64_t> router_id;
    nullable<std::string> interface;
};

policy_body parse_policy(const json& body, bool create) {
    return {name_field(body, create), choice(body, "kind", {"static_arp"}),
            nullable_int(body, "router_id"), nullable_string(body, "interface", 64)};
}

void add_policy_routes(endpoints& api, services& s) {
    add_list_route(api, s, "/access_policies", "access_policy::view",
                   "SELECT count(*) FROM access_policies", k_policy_select + "ORDER BY p.id",
                   policy_json);
    add_get_route(api, s, "/access_policies/{id}", "access_policy::view", read_policy);

    api.add(
        verb::post, "/access_policies", access::op("access_policy::create"),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const policy_body b = parse_policy(json_body(req), true);
            auto create = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                if (b.router_id.value) require_row(tx, "routers", "router", *b.router_id.value);
                const auto id = tx.exec_params1(
                                      "INSERT INTO access_policies (name, kind, router_id, "
                                      "interface) VALUES ($1, $2, $3, $4) RETURNING id",
                                      *b.name, b.kind.value_or("static_arp"), b.router_id.value,
                                      b.interface.value)[0]
                                    .as<std::int64_t>();
                const json policy = read_policy(tx, id);
                audit::record(
                    tx, c.who, c.request_id,
                    {"access_policy.create", "access_policy", std::to_string(id), nullptr, policy});
                tx.commit();
                return policy;
            };
            const json policy = co_await s.db.run(create);
            co_return json_reply(admin_data(policy), http::status::created);
        });

    api.add(
        verb::patch, "/access_policies/{id}", access::op("access_policy::update"),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const auto id = id_param(p, "id");
            const policy_body b = parse_policy(json_body(req), false);
            auto update = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const json before = read_policy(tx, id);
                if (b.router_id.value) require_row(tx, "routers", "router", *b.router_id.value);
                tx.exec_params(
                    "UPDATE access_policies SET name = COALESCE($2, name), "
                    "kind = COALESCE($3, kind), "
                    "router_id = CASE WHEN $4 THEN $5 ELSE router_id END, "
                    "interface = CASE WHEN $6 THEN $7 ELSE interface END WHERE id = $1",
                    id, b.name, b.kind, b.router_id.present, b.router_id.value, b.interface.present,
                    b.interface.value);
                const json after = read_policy(tx, id);
                audit::record(
                    tx, c.who, c.request_id,
                    {"access_policy.update", "access_policy", std::to_string(id), before, after});
                tx.commit();
                return after;
            };
            const json policy = co_await s.db.run(update);
            co_return json_reply(admin_data(policy));
        });

    api.add(verb::delete_, "/access_policies/{id}", access::op("access_policy::delete"),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const auto id = id_param(p, "id");
                auto remove = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    tx.exec_params("SELECT 1 FROM access_policies WHERE id = $1 FOR UPDATE", id);
                    const json before = read_policy(tx, id);
                    const auto used = before["ip_range_count"].get<std::int64_t>();
                    if (used > 0) {
                        throw conflict("access_policy_in_use",
                                       "the access policy is used by " + std::to_string(used) +
                                           " IP ranges; remove it from them first");
                    }
                    tx.exec_params("DELETE FROM access_policies WHERE id = $1", id);
                    audit::record(tx, c.who, c.request_id,
                                  {"access_policy.delete", "access_policy", std::to_string(id),
                                   before, nullptr});
                    tx.commit();
                };
                co_await s.db.run(remove);
                co_return json_reply(admin_data(nullptr));
            });
}

// ---- routers -----------------------------------------------------------------------------

const std::string k_router_select =
    "SELECT r.id, r.name, r.enabled, r.kind, r.url, "
    "(SELECT count(*) FROM access_policies p WHERE p.router_id = r.id) FROM routers r ";

// AdminRouterDetail; the token is never part of it.
json router_json(const pqxx::row& r) {
    return {{"id", r[0].as<std::int64_t>()}, {"name", r[1].as<std::string>()},
            {"enabled", r[2].as<bool>()},    {"kind", r[3].as<std::string>()},
            {"url", r[4].as<std::string>()}, {"access_policy_count", r[5].as<std::int64_t>()}};
}

json read_router(pqxx::work& tx, std::int64_t id) {
    return read_one(tx, k_router_select + "WHERE r.id = $1", id, "router_not_found",
                    "router not found", router_json);
}

struct router_body {
    std::optional<std::string> name;
    std::optional<bool> enabled;
    std::optional<std::string> kind;
    std::optional<std::string> url;
    std::optional<std::string> token;
};

router_body parse_router(const json& body, bool create) {
    router_body b{name_field(body, create), optional_bool(body, "enabled"),
                  choice(body, "kind", {"mikrotik", "ovh_additional_ip"}),
                  optional_string(body, "url"), optional_string(body, "token")};
    if (create && (!b.kind || !b.url || !b.token)) {
        throw bad_request("name, kind, url and token are required");
    }
    if (b.url) {
        const auto& u = *b.url;
        const auto scheme = u.starts_with("https://") ? 8u : u.starts_with("http://") ? 7u : 0u;
        if (scheme == 0 || u.size() <= scheme || u.size() > 2048 || u[scheme] == '/' ||
            u.find_first_of(" \t\r\n") != std::string::npos) {
            throw bad_request("url must be the router's API address, https://HOST[:PORT][/PATH]");
        }
    }
    if (b.token && (b.token->empty() || b.token->size() > 4096)) {
        throw bad_request("token must be 1-4096 characters");
    }
    return b;
}

void add_router_routes(endpoints& api, services& s) {
    add_list_route(api, s, "/routers", "router::view", "SELECT count(*) FROM routers",
                   k_router_select + "ORDER BY r.id", router_json);
    add_get_route(api, s, "/routers/{id}", "router::view", read_router);

    api.add(
        verb::post, "/routers", access::op("router::create"),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const router_body b = parse_router(json_body(req), true);
            auto create = [&](pqxx::connection& conn) {
                const auto& box = s.keys.box(conn);
                const std::string sealed =
                    box.seal(std::vector<unsigned char>(b.token->begin(), b.token->end()));
                pqxx::work tx(conn);
                const auto id = tx.exec_params1(
                                      "INSERT INTO routers (name, enabled, kind, url, token) "
                                      "VALUES ($1, $2, $3, $4, $5) RETURNING id",
                                      *b.name, b.enabled.value_or(true), *b.kind, *b.url,
                                      pqxx::binarystring(sealed.data(), sealed.size()))[0]
                                    .as<std::int64_t>();
                const json router = read_router(tx, id);
                audit::record(tx, c.who, c.request_id,
                              {"router.create", "router", std::to_string(id), nullptr, router});
                tx.commit();
                return router;
            };
            const json router = co_await s.db.run(create);
            co_return json_reply(admin_data(router), http::status::created);
        });

    api.add(
        verb::patch, "/routers/{id}", access::op("router::update"),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const auto id = id_param(p, "id");
            const router_body b = parse_router(json_body(req), false);
            auto update = [&](pqxx::connection& conn) {
                std::string sealed;
                if (b.token) {
                    sealed = s.keys.box(conn).seal(
                        std::vector<unsigned char>(b.token->begin(), b.token->end()));
                }
                pqxx::work tx(conn);
                const json before = read_router(tx, id);
                tx.exec_params(
                    "UPDATE routers SET name = COALESCE($2, name), "
                    "enabled = COALESCE($3, enabled), kind = COALESCE($4, kind), "
                    "url = COALESCE($5, url) WHERE id = $1",
                    id, b.name, b.enabled, b.kind, b.url);
                if (b.token) {
                    tx.exec_params("UPDATE routers SET token = $2 WHERE id = $1", id,
                                   pqxx::binarystring(sealed.data(), sealed.size()));
                }
                const json after = read_router(tx, id);
                // The token changed or not, never its value.
                json audited_after = after;
                audited_after["token_changed"] = b.token.has_value();
                audit::record(
                    tx, c.who, c.request_id,
                    {"router.update", "router", std::to_string(id), before, audited_after});
                tx.commit();
                return after;
            };
            const json router = co_await s.db.run(update);
            co_return json_reply(admin_data(router));
        });

    api.add(verb::delete_, "/routers/{id}", access::op("router::delete"),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const auto id = id_param(p, "id");
                auto remove = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    tx.exec_params("SELECT 1 FROM routers WHERE id = $1 FOR UPDATE", id);
                    const json before = read_router(tx, id);
                    const auto used = before["access_policy_count"].get<std::int64_t>();
                    if (used > 0) {
                        throw conflict("router_in_use",
                                       "the router is used by " + std::to_string(used) +
                                           " access policies; remove it from them first");
                    }
                    tx.exec_params("DELETE FROM routers WHERE id = $1", id);
                    audit::record(tx, c.who, c.request_id,
                                  {"router.delete", "router", std::to_string(id), before, nullptr});
                    tx.commit();
                };
                co_await s.db.run(remove);
                co_return json_reply(admin_data(nullptr));
            });
}

}  // namespace

void add_ipam_routes(endpoints& api, services& s) {
    add_range_routes(api, s);
    add_policy_routes(api, s);
    add_router_routes(api, s);
    add_ip_assignment_routes(api, s);
}

}  // namespace vpsfleet::api::admin
