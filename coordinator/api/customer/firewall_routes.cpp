#include "coordinator/api/customer/firewall_routes.hpp"

#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/api/customer/instance_access.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/auth/api_keys.hpp"
#include "coordinator/firewall/firewall_job.hpp"
#include "coordinator/firewall/rule_store.hpp"

#include <algorithm>

namespace vpsfleet::api::customer {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

constexpr const char* k_rules_path = "/projects/{project}/instances/{instance}/firewall";
constexpr const char* k_rule_path = "/projects/{project}/instances/{instance}/firewall/{rule}";

firewall::stored_rule find_or_404(pqxx::work& tx, const project_instance& i,
                                  const std::string& uid) {
    auto found = firewall::find_rule(tx, i.id, uid);
    if (!found) throw not_found("rule_not_found", "Firewall rule not found");
    return *found;
}

// A rule's fields as the audit trail keeps them: the API view plus the instance it guards.
json audit_json(const firewall::rule& r, const std::string& instance) {
    json out = firewall::to_api_json(r);
    out["instance"] = instance;
    return out;
}

// Runs `f`, turning a field that cannot be used into the customer API's 400.
template <class F>
auto checked(F f) {
    try {
        return f();
    } catch (const firewall::invalid_rule& e) {
        throw bad_request(e.what(), {{"field", e.field}});
    }
}

}  // namespace

void add_firewall_routes(endpoints& api, services& s) {
    api.add(verb::get, k_rules_path, access::key(auth::permission::read_vps),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const std::string project = p.at("project");
                const std::string instance = p.at("instance");
                auto list = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    const auto i = find_instance(tx, c, project, instance, false);
                    json out = json::array();
                    for (const auto& r : firewall::load_rules(tx, i.id))
                        out.push_back(firewall::to_api_json(r));
                    return out;
                };
                const json rules = co_await s.db.run(list);
                co_return json_reply(rules);
            });

    api.add(
        verb::post, k_rules_path, access::key(auth::permission::vps_control),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const json body = json_body(req);
            const firewall::rule wanted = checked([&] { return firewall::parse_new_rule(body); });
            const std::string project = p.at("project");
            const std::string instance = p.at("instance");
            auto create = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const auto i = find_instance(tx, c, project, instance, true);
                const auto count = tx.exec_params1(
                    "SELECT count(*) FROM firewall_rules WHERE instance_id = $1", i.id)[0];
                if (count.as<std::size_t>() >= firewall::k_max_rules) {
                    throw conflict("rule_limit_reached", "An instance has at most " +
                                                             std::to_string(firewall::k_max_rules) +
                                                             " firewall rules");
                }
                const auto stored = firewall::insert_rule(tx, i.id, wanted);
                firewall::enqueue_sync(tx, i.id, i.uid, i.project_id, acting_user(c));
                audit::record(tx, c.who, c.request_id,
                              {"firewall.rule.create", "firewall_rule", stored.uid, nullptr,
                               audit_json(stored, i.uid)});
                tx.commit();
                return firewall::to_api_json(stored);
            };
            const json rule = co_await s.db.run(create);
            co_return json_reply(rule, http::status::created);
        });

    api.add(
        verb::patch, k_rule_path, access::key(auth::permission::vps_control),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const json body = json_body(req);
            const auto position = checked([&] { return firewall::requested_position(body); });
            const std::string project = p.at("project");
            const std::string instance = p.at("instance");
            const std::string uid = p.at("rule");
            auto update = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const auto i = find_instance(tx, c, project, instance, true);
                const auto current = find_or_404(tx, i, uid);
                firewall::rule next =
                    checked([&] { return firewall::apply_patch(current.value, body); });
                if (position) {
                    // Past the end means last: positions stay 1..n.
                    const auto n = tx.exec_params1(
                        "SELECT count(*) FROM firewall_rules WHERE instance_id = $1", i.id)[0];
                    next.position = static_cast<int>(std::min(*position, n.as<std::int64_t>()));
                }
                if (next == current.value) return firewall::to_api_json(next);
                firewall::update_rule(tx, current.id, next);
                firewall::move_rule(tx, i.id, current.id, current.value.position, next.position);
                firewall::enqueue_sync(tx, i.id, i.uid, i.project_id, acting_user(c));
                audit::record(tx, c.who, c.request_id,
                              {"firewall.rule.update", "firewall_rule", uid,
                               audit_json(current.value, i.uid), audit_json(next, i.uid)});
                tx.commit();
                return firewall::to_api_json(next);
            };
            const json rule = co_await s.db.run(update);
            co_return json_reply(rule);
        });

    api.add(verb::delete_, k_rule_path, access::key(auth::permission::vps_control),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const std::string project = p.at("project");
                const std::string instance = p.at("instance");
                const std::string uid = p.at("rule");
                auto remove = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    const auto i = find_instance(tx, c, project, instance, true);
                    const auto current = find_or_404(tx, i, uid);
                    firewall::delete_rule(tx, i.id, current.id, current.value.position);
                    firewall::enqueue_sync(tx, i.id, i.uid, i.project_id, acting_user(c));
                    audit::record(tx, c.who, c.request_id,
                                  {"firewall.rule.delete", "firewall_rule", uid,
                                   audit_json(current.value, i.uid), nullptr});
                    tx.commit();
                };
                co_await s.db.run(remove);
                co_return no_content();
            });
}

}  // namespace vpsfleet::api::customer
