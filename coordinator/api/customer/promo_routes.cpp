#include "coordinator/api/customer/promo_routes.hpp"

#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/api/customer/billing_routes.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/billing/billing_error.hpp"
#include "coordinator/billing/promo_codes.hpp"

namespace vpsfleet::api::customer {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

api_error promo_refusal(const billing::billing_error& e) {
    if (e.code == "promo_not_found") return not_found(e.code, e.what());
    if (e.code == "promo_inactive") return api_error(http::status::bad_request, e.code, e.what());
    return conflict(e.code, e.what());  // promo_already_used, currency_mismatch
}

}  // namespace

void add_promo_routes(endpoints& api, services& s) {
    api.add(
        verb::post, "/billing/promo", access::account_holder(),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const std::int64_t user_id = billing_user(c);
            const auto code =
                billing::normalize_promo_code(required_string(json_body(req), "code"));
            if (!code) {
                throw bad_request("code must be 1-64 letters, digits, '-' or '_'",
                                  {{"field", "code"}});
            }
            auto redeem = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                try {
                    const auto done = billing::redeem_promo(tx, user_id, *code);
                    audit::record(tx, c.who, c.request_id,
                                  {"billing.promo", "promo_code", *code, nullptr,
                                   json{{"credited", done.credited}}});
                    tx.commit();
                    return json{{"creditedOre", done.credited},
                                {"balanceAfterOre", done.balance_after}};
                } catch (const billing::billing_error& e) {
                    throw promo_refusal(e);
                }
            };
            const json out = co_await s.db.run(redeem);
            co_return json_reply(out);
        });
}

}  // namespace vpsfleet::api::customer
