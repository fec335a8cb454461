#include "coordinator/api/admin/ipam_routes.hpp"

#include "coordinator/api/admin/read_routes.hpp"
#include "coordinator/api/admin/role_routes.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/ipam/allocator.hpp"
#include "coordinator/ipam/dns_name.hpp"
#include "coordinator/ipam/ip_jobs.hpp"
#include "coordinator/jobs/job_store.hpp"
#include "coordinator/store/json_fields.hpp"

namespace vpsfleet::api::admin {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

using store::text_or_null;

const std::string k_assignment_select =
    "SELECT a.id, a.instance_id, a.ip_range_id, r.region_id, p.owner_user_id, host(a.ip), "
    "a.deleted_at IS NOT NULL, a.arp_ref, a.dns_forward, a.dns_reverse, r.cidr::text, g.name "
    "FROM vm_ip_assignments a JOIN ip_ranges r ON r.id = a.ip_range_id "
    "JOIN regions g ON g.id = r.region_id JOIN instances i ON i.id = a.instance_id "
    "JOIN projects p ON p.id = i.project_id ";

// AdminVmIpAssignmentInfo. DNS records are not pushed to a DNS provider yet: their refs are null.
json assignment_json(const pqxx::row& r) {
    return {{"id", r[0].as<std::int64_t>()},
            {"vm_id", r[1].as<std::int64_t>()},
            {"ip_range_id", r[2].as<std::int64_t>()},
            {"region_id", r[3].as<std::int64_t>()},
            {"user_id", r[4].as<std::int64_t>()},
            {"ip", r[5].as<std::string>()},
            {"deleted", r[6].as<bool>()},
            {"arp_ref", text_or_null(r[7])},
            {"dns_forward", text_or_null(r[8])},
            {"dns_forward_ref", nullptr},
            {"dns_reverse", text_or_null(r[9])},
            {"dns_reverse_ref", nullptr},
            {"ip_range_cidr", text_or_null(r[10])},
            {"region_name", text_or_null(r[11])}};
}

json read_assignment(pqxx::work& tx, std::int64_t id) {
    return read_one(tx, k_assignment_select + "WHERE a.id = $1", id, "assignment_not_found",
                    "IP assignment not found", assignment_json);
}

std::optional<std::int64_t> int_query(const http::request& req, const char* name) {
    const auto text = query_param(req, name);
    if (!text) return std::nullopt;
    try {
        std::size_t used = 0;
        const auto value = std::stoll(*text, &used);
        if (used == text->size()) return value;
    } catch (const std::exception&) {
    }
    throw bad_request(std::string(name) + " must be an integer");
}

// A DNS name field: absent, null, or a valid name (normalized).
std::optional<std::string> dns_field(const json& body, const std::string& field) {
    const auto value = optional_string(body, field);
    if (!value) return value;
    try {
        return ipam::normalize_dns_name(*value, field);
    } catch (const ipam::ipam_error& e) {
        throw bad_request(e.what());
    }
}

std::optional<std::string> arp_ref_field(const json& body) {
    auto value = optional_string(body, "arp_ref");
    if (value && (value->empty() || value->size() > 255)) {
        throw bad_request("arp_ref must be 1-255 characters or null");
    }
    return value;
}

ipam::address ip_field(const std::string& text) {
    const auto a = ipam::parse_address(text);
    if (!a) throw bad_request("ip must be an IP address, not '" + text + "'");
    return *a;
}

// The requested address must be usable in the range and free (other than `self`).
void check_requested_ip(pqxx::work& tx, const ipam::range_info& range, const ipam::address& a,
                        std::optional<std::int64_t> self) {
    try {
        ipam::require_usable(range.rules, a);
    } catch (const ipam::ipam_error& e) {
        throw ipam_refusal(e);
    }
    if (ipam::address_taken(tx, a, self)) {
        throw conflict("ip_taken", ipam::to_string(a) + " is already assigned");
    }
}

std::optional<std::int64_t> user_of(const call& c) {
    return c.who.user_id > 0 ? std::optional<std::int64_t>(c.who.user_id) : std::nullopt;
}

json dispatched(const jobs::enqueued_job& job) {
    return admin_data({{"job_dispatched", true}, {"job_id", job.uid}});
}

// update and unassign: one open job per assignment.
jobs::enqueued_job enqueue_for_assignment(pqxx::work& tx, const call& c, const char* kind,
                                          std::int64_t id, json args) {
    auto job = jobs::enqueue(tx, jobs::new_job{.kind = kind,
                                               .args = std::move(args),
                                               .created_by_user_id = user_of(c),
                                               .target = "vm_ip_assignment:" + std::to_string(id),
                                               .exclusive = true});
    if (!job) {
        throw conflict("operation_in_progress",
                       "another change to this IP assignment is still in progress");
    }
    return *job;
}

// The live assignment, locked; 404 when there is none, 409 when it was deleted.
json lock_live_assignment(pqxx::work& tx, std::int64_t id) {
    tx.exec_params("SELECT 1 FROM vm_ip_assignments WHERE id = $1 FOR UPDATE", id);
    json a = read_assignment(tx, id);
    if (a["deleted"].get<bool>()) {
        throw conflict("assignment_deleted", "the IP assignment was already deleted");
    }
    return a;
}

}  // namespace

void add_ip_assignment_routes(endpoints& api, services& s) {
    api.add(verb::get, "/vm_ip_assignments", access::op("ip_range::view"),
            [&s](http::request& req, const path_params&, call&) -> asio::awaitable<http::response> {
                const auto page = page_params(req);
                const auto vm = int_query(req, "vm_id");
                const auto range = int_query(req, "ip_range_id");
                std::optional<std::string> ip;
                if (const auto text = query_param(req, "ip")) {
                    ip = ipam::to_string(ip_field(*text));
                }
                bool include_deleted = false;
                if (const auto text = query_param(req, "include_deleted")) {
                    if (*text == "true" || *text == "1") {
                        include_deleted = true;
                    } else if (*text != "false" && *text != "0") {
                        throw bad_request("include_deleted must be true or false");
                    }
                }
                auto list = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    const std::string where =
                        "WHERE ($1::bigint IS NULL OR a.instance_id = $1) "
                        "AND ($2::bigint IS NULL OR a.ip_range_id = $2) "
                        "AND ($3::inet IS NULL OR a.ip = $3::inet) "
                        "AND ($4 OR a.deleted_at IS NULL) ";
                    json items = json::array();
                    for (const auto& r : tx.exec_params(
                             k_assignment_select + where + "ORDER BY a.id LIMIT $5 OFFSET $6", vm,
                             range, ip, include_deleted, page.limit, page.offset)) {
                        items.push_back(assignment_json(r));
                    }
                    const auto total =
                        tx.exec_params1("SELECT count(*) FROM vm_ip_assignments a " + where, vm,
                                        range, ip, include_deleted)[0]
                            .as<std::int64_t>();
                    return admin_page(std::move(items), total, page.limit, page.offset);
                };
                const json out = co_await s.db.run(list);
                co_return json_reply(out);
            });
    add_get_route(api, s, "/vm_ip_assignments/{id}", "ip_range::view", read_assignment);

    api.add(
        verb::post, "/vm_ip_assignments", access::op("virtual_machines::update"),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const json body = json_body(req);
            const auto vm = optional_int(body, "vm_id");
            const auto range_id = optional_int(body, "ip_range_id");
            if (!vm || !range_id) throw bad_request("vm_id and ip_range_id are required");
            const auto ip = optional_string(body, "ip");
            std::optional<ipam::address> wanted;
            if (ip) wanted = ip_field(*ip);
            json args = {{"vm_id", *vm}, {"ip_range_id", *range_id}};
            if (wanted) args["ip"] = ipam::to_string(*wanted);
            if (const auto ref = arp_ref_field(body)) args["arp_ref"] = *ref;
            if (const auto name = dns_field(body, "dns_forward")) args["dns_forward"] = *name;
            if (const auto name = dns_field(body, "dns_reverse")) args["dns_reverse"] = *name;
            auto dispatch = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                if (tx.exec_params("SELECT 1 FROM instances WHERE id = $1 AND deleted_at IS NULL",
                                   *vm)
                        .empty()) {
                    throw bad_request("vm " + std::to_string(*vm) + " does not exist");
                }
                ipam::range_info range;
                try {
                    range = ipam::read_range(tx, *range_id);
                } catch (const ipam::ipam_error&) {
                    throw bad_request("ip range " + std::to_string(*range_id) + " does not exist");
                }
                if (!range.enabled) {
                    throw conflict(
                        "range_disabled",
                        "the range " + ipam::to_string(range.rules.cidr) + " is disabled");
                }
                if (wanted) check_requested_ip(tx, range, *wanted, std::nullopt);
                const auto job =
                    jobs::enqueue(tx, jobs::new_job{.kind = ipam::k_assign_kind,
                                                    .args = args,
                                                    .created_by_user_id = user_of(c),
                                                    .target = "vm:" + std::to_string(*vm)});
                audit::record(tx, c.who, c.request_id,
                              {"vm_ip_assignment.create", "vm", std::to_string(*vm), nullptr,
                               json{{"job_id", job->uid}, {"request", args}}});
                tx.commit();
                return dispatched(*job);
            };
            const json out = co_await s.db.run(dispatch);
            co_return json_reply(out, http::status::accepted);
        });

    api.add(
        verb::patch, "/vm_ip_assignments/{id}", access::op("virtual_machines::update"),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const auto id = id_param(p, "id");
            const json body = json_body(req);
            json changes = json::object();
            std::optional<ipam::address> wanted;
            if (body.contains("ip")) {
                const auto ip = optional_string(body, "ip");
                if (!ip) throw bad_request("ip cannot be cleared; delete the assignment instead");
                wanted = ip_field(*ip);
                changes["ip"] = ipam::to_string(*wanted);
            }
            auto or_null = [](const std::optional<std::string>& v) {
                return v ? json(*v) : json(nullptr);
            };
            if (body.contains("arp_ref")) changes["arp_ref"] = or_null(arp_ref_field(body));
            for (const char* field : {"dns_forward", "dns_reverse"}) {
                if (body.contains(field)) changes[field] = or_null(dns_field(body, field));
            }
            auto dispatch = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const json before = lock_live_assignment(tx, id);
                if (wanted) {
                    const auto range =
                        ipam::read_range(tx, before["ip_range_id"].get<std::int64_t>());
                    check_requested_ip(tx, range, *wanted, id);
                }
                const auto job = enqueue_for_assignment(
                    tx, c, ipam::k_update_kind, id, {{"assignment_id", id}, {"changes", changes}});
                audit::record(tx, c.who, c.request_id,
                              {"vm_ip_assignment.update", "vm_ip_assignment", std::to_string(id),
                               before, json{{"job_id", job.uid}, {"changes", changes}}});
                tx.commit();
                return dispatched(job);
            };
            const json out = co_await s.db.run(dispatch);
            co_return json_reply(out, http::status::accepted);
        });

    api.add(verb::delete_, "/vm_ip_assignments/{id}", access::op("virtual_machines::update"),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const auto id = id_param(p, "id");
                auto dispatch = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    const json before = lock_live_assignment(tx, id);
                    const auto job = enqueue_for_assignment(tx, c, ipam::k_unassign_kind, id,
                                                            {{"assignment_id", id}});
                    audit::record(tx, c.who, c.request_id,
                                  {"vm_ip_assignment.delete", "vm_ip_assignment",
                                   std::to_string(id), before, json{{"job_id", job.uid}}});
                    tx.commit();
                    return dispatched(job);
                };
                const json out = co_await s.db.run(dispatch);
                co_return json_reply(out, http::status::accepted);
            });
}

}  // namespace vpsfleet::api::admin
