#include "coordinator/api/endpoints.hpp"

#include "coordinator/api/api_error.hpp"
#include "coordinator/auth/api_keys.hpp"
#include "coordinator/auth/rbac.hpp"

namespace vpsfleet::api {

namespace asio = boost::asio;

namespace {

// Router errors (404/405) carry no request id; the gateway re-renders them with one.
http::response routing_error(http::status status, const std::string& message) {
    throw api_error(status, code_for(status), message);
}

}  // namespace

endpoints::endpoints(flavor api, std::string base, store::database& db)
    : api_(api), base_(std::move(base)), db_(db), router_(routing_error) {}

void endpoints::add(boost::beast::http::verb method, const std::string& sub_path, access rule,
                    handler h) {
    router_.add(method, base_ + sub_path,
                [this, rule = std::move(rule), h = std::move(h)](
                    http::request& req, const http::path_params& params,
                    call& c) -> asio::awaitable<http::response> {
                    c.route_permission = rule.key_permission;
                    co_await check(rule, params, c);
                    co_return co_await h(req, params, c);
                });
}

asio::awaitable<http::response> endpoints::handle(http::request& req, std::string& matched,
                                                  call& c) const {
    co_return co_await router_.handle(req, matched, c);
}

asio::awaitable<void> endpoints::check(const access& rule, const http::path_params& params,
                                       call& c) const {
    if (rule.open) co_return;
    if (c.who.anonymous()) throw unauthenticated();
    using kind = auth::principal::kind;
    if (api_ == flavor::admin) {
        if (c.who.type != kind::user) {
            throw forbidden("operator_only", "The admin API accepts operator sign-ins only");
        }
        const std::int64_t user_id = c.who.user_id;
        auto load = [user_id](pqxx::connection& conn) {
            pqxx::work tx(conn);
            return auth::permissions_of(tx, user_id);
        };
        const auto granted = co_await db_.run(load);
        if (granted.empty()) throw forbidden("not_an_operator", "This account has no admin role");
        if (!rule.operator_permission.empty() && !auth::allows(granted, rule.operator_permission)) {
            throw forbidden("missing_permission",
                            "missing permission: " + rule.operator_permission);
        }
        co_return;
    }
    if (c.who.type == kind::api_key) {
        if (rule.account_holder_only) {
            throw forbidden("forbidden",
                            "An API key acts inside its own project; this route needs the "
                            "account holder's sign-in");
        }
        if (const auto it = params.find("project");
            it != params.end() && it->second != c.who.project_uid) {
            throw forbidden("forbidden", "API key is not valid for this project.");
        }
        if ((c.who.key_permissions & rule.key_permission) != rule.key_permission) {
            const auto missing = rule.key_permission & ~c.who.key_permissions;
            throw forbidden("missing_permission",
                            "API key lacks the " + auth::permission_name(missing) + " permission");
        }
    }
}

}  // namespace vpsfleet::api
