#include "coordinator/api/customer/limit_routes.hpp"

#include "common/secrets.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/limits/account_limits.hpp"
#include "coordinator/store/sql.hpp"

#include <algorithm>

namespace vpsfleet::api::customer {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

// Far above any limit an operator would grant, and inside every integer type on the way.
constexpr std::int64_t k_max_requested = 1'000'000'000;

const std::string k_request_select = "SELECT uid, quota_key, requested, use_case, status, " +
                                     store::iso8601("created_at") + " FROM limit_requests ";

json request_json(const pqxx::row& r) {
    return {{"uid", r[0].as<std::string>()},        {"quotaKey", r[1].as<std::string>()},
            {"requested", r[2].as<std::int64_t>()}, {"useCase", r[3].as<std::string>()},
            {"status", r[4].as<std::string>()},     {"createdAt", r[5].as<std::string>()}};
}

struct new_request {
    std::string quota_key;
    std::int64_t requested = 0;
    std::string use_case;
};

new_request parse_request(const json& body) {
    new_request r;
    r.quota_key = required_string(body, "quotaKey");
    if (!limits::is_quota_key(r.quota_key)) {
        throw bad_request(
            "quotaKey must be one of instances, memoryMb, templateStorageGb, restoresPerMonth",
            {{"field", "quotaKey"}});
    }
    const auto it = body.find("requested");
    if (it == body.end() || !it->is_number_integer()) {
        throw bad_request("requested must be a positive integer", {{"field", "requested"}});
    }
    const bool too_big = it->is_number_unsigned()
                             ? it->get<std::uint64_t>() > std::uint64_t{k_max_requested}
                             : it->get<std::int64_t>() > k_max_requested;
    if (too_big) {
        throw bad_request("requested must be at most " + std::to_string(k_max_requested),
                          {{"field", "requested"}});
    }
    r.requested = it->get<std::int64_t>();
    if (r.requested <= 0) {
        throw bad_request("requested must be a positive integer", {{"field", "requested"}});
    }
    r.use_case = required_string(body, "useCase");
    const auto length = utf8_length(r.use_case);
    if (length < 10 || length > 512) {
        throw bad_request("useCase must be 10-512 characters", {{"field", "useCase"}});
    }
    return r;
}

// `uid`: the pending request, when known.
api_error already_pending(const std::string& quota_key, const std::string& uid = {}) {
    return conflict("limit_request_pending",
                    "A request for a higher " + quota_key + " limit is already pending" +
                        (uid.empty() ? "" : " (" + uid + ")") + "; wait until it is decided");
}

}  // namespace

namespace {

// A member orders on the owner's account: told whose limit it is, without the owner's figures.
void refuse_over_limits(pqxx::work& tx, const services& s, std::int64_t caller_id,
                        std::int64_t project_id, std::int64_t more_instances,
                        std::int64_t more_memory_mb) {
    const auto owner =
        tx.exec_params1("SELECT owner_user_id FROM projects WHERE id = $1", project_id)[0]
            .as<std::int64_t>();
    const auto over =
        limits::quota_exceeded_by(tx, s.limits, owner, more_instances, more_memory_mb);
    if (!over) return;
    if (caller_id != owner) {
        throw api_error(http::status::forbidden, "limit_exceeded",
                        "The project owner's " + over->key +
                            " limit is reached; its owner can ask for a higher limit",
                        {{"quota", over->key}});
    }
    const std::int64_t needs = over->key == "instances" ? more_instances : more_memory_mb;
    throw api_error(
        http::status::forbidden, "limit_exceeded",
        "The " + over->key + " limit is " + std::to_string(over->limit) + " and " +
            std::to_string(over->used) + " is in use; this instance needs " +
            std::to_string(needs) +
            " more. Ask for a higher limit with POST /account/limit-requests",
        {{"quota", over->key}, {"limit", over->limit}, {"used", over->used}, {"needed", needs}});
}

std::int64_t plan_memory_mb(pqxx::work& tx, std::int64_t plan_id) {
    return tx.exec_params1("SELECT memory_mb FROM plans WHERE id = $1", plan_id)[0]
        .as<std::int64_t>();
}

}  // namespace

void refuse_instance_over_limits(pqxx::work& tx, const services& s, std::int64_t caller_id,
                                 std::int64_t project_id, std::int64_t plan_id) {
    refuse_over_limits(tx, s, caller_id, project_id, 1, plan_memory_mb(tx, plan_id));
}

void refuse_resize_over_limits(pqxx::work& tx, const services& s, std::int64_t caller_id,
                               std::int64_t project_id, std::int64_t from_plan_id,
                               std::int64_t to_plan_id) {
    refuse_over_limits(tx, s, caller_id, project_id, 0,
                       plan_memory_mb(tx, to_plan_id) - plan_memory_mb(tx, from_plan_id));
}

void add_limit_routes(endpoints& api, services& s) {
    api.add(verb::get, "/account/limits", access::account_holder(),
            [&s](http::request&, const path_params&, call& c) -> asio::awaitable<http::response> {
                auto read = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    json out = json::array();
                    for (const auto& q : limits::account_quotas(tx, s.limits, c.who.user_id)) {
                        out.push_back({{"key", q.key}, {"used", q.used}, {"limit", q.limit}});
                    }
                    return out;
                };
                const json quotas = co_await s.db.run(read);
                co_return json_reply(quotas);
            });

    api.add(
        verb::get, "/account/limit-requests", access::account_holder(),
        [&s](http::request&, const path_params&, call& c) -> asio::awaitable<http::response> {
            auto list = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                json out = json::array();
                for (const auto& r : tx.exec_params(
                         k_request_select + "WHERE user_id = $1 ORDER BY id DESC", c.who.user_id)) {
                    out.push_back(request_json(r));
                }
                return out;
            };
            const json requests = co_await s.db.run(list);
            co_return json_reply(requests);
        });

    api.add(
        verb::post, "/account/limit-requests", access::account_holder(),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const new_request r = parse_request(json_body(req));
            auto create = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const auto limit =
                    limits::effective_limit(tx, s.limits, c.who.user_id, r.quota_key);
                if (r.requested <= limit) {
                    throw bad_request("requested must be above your current " + r.quota_key +
                                          " limit of " + std::to_string(limit),
                                      {{"field", "requested"}, {"limit", limit}});
                }
                const auto pending = tx.exec_params(
                    "SELECT uid FROM limit_requests WHERE user_id = $1 AND quota_key = $2 "
                    "AND status = 'pending'",
                    c.who.user_id, r.quota_key);
                if (!pending.empty()) {
                    throw already_pending(r.quota_key, pending[0][0].as<std::string>());
                }
                const std::string uid = secrets::random_token("req_", 9);
                json request;
                try {
                    request = request_json(tx.exec_params1(
                        "INSERT INTO limit_requests (uid, user_id, quota_key, requested, "
                        "use_case) VALUES ($1, $2, $3, $4, $5) RETURNING uid, quota_key, "
                        "requested, use_case, status, " +
                            store::iso8601("created_at"),
                        uid, c.who.user_id, r.quota_key, r.requested, r.use_case));
                } catch (const pqxx::unique_violation&) {
                    // Another request for this quota committed between the check and the insert.
                    throw already_pending(r.quota_key);
                }
                audit::record(tx, c.who, c.request_id,
                              {"limit_request.create", "limit_request", uid, nullptr, request});
                tx.commit();
                return request;
            };
            const json request = co_await s.db.run(create);
            co_return json_reply(request, http::status::created);
        });
}

}  // namespace vpsfleet::api::customer
