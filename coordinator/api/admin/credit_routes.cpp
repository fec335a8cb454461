// /users/{id}/credits: an operator's view of a customer's credits ledger, and manual adjustments
// (a bank transfer booked by hand, a goodwill credit, a correction), each one audited ledger entry.
#include "coordinator/api/admin/business_routes.hpp"
#include "coordinator/api/admin/fields.hpp"
#include "coordinator/api/admin/role_routes.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/billing/billing_error.hpp"
#include "coordinator/billing/ledger.hpp"

namespace vpsfleet::api::admin {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

constexpr std::int64_t k_max_adjustment = 10'000'000'000;

void require_user(pqxx::transaction_base& tx, std::int64_t id) {
    if (tx.exec_params("SELECT 1 FROM users WHERE id = $1", id).empty()) {
        throw not_found("user_not_found", "User not found");
    }
}

json credits_json(pqxx::transaction_base& tx, std::int64_t user_id) {
    const auto account = billing::find_account(tx, user_id);
    json entries = json::array();
    for (const auto& e : billing::recent_entries(tx, user_id, 100)) {
        entries.push_back({{"id", e.uid},
                           {"type", e.type},
                           {"amount", e.amount},
                           {"currency", e.currency},
                           {"balance_after", e.balance_after},
                           {"note", e.note},
                           {"created", e.created_at}});
    }
    return {{"user_id", user_id},
            {"balance", account ? account->balance : 0},
            {"currency", account ? json(account->currency) : json(nullptr)},
            {"overdraft_limit", account ? account->overdraft_limit : 0},
            {"entries", entries}};
}

}  // namespace

void add_credit_routes(endpoints& api, services& s) {
    api.add(verb::get, "/users/{id}/credits", access::op("payments::view"),
            [&s](http::request&, const path_params& p, call&) -> asio::awaitable<http::response> {
                const auto id = id_param(p, "id");
                auto read = [id](pqxx::connection& conn) {
                    pqxx::read_transaction tx(conn);
                    require_user(tx, id);
                    return credits_json(tx, id);
                };
                const json out = co_await s.db.run(read);
                co_return json_reply(admin_data(out));
            });

    api.add(
        verb::post, "/users/{id}/credits", access::op("payments::update"),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const auto id = id_param(p, "id");
            const json body = json_body(req);
            const auto amount = int_in(body, "amount", -k_max_adjustment, k_max_adjustment);
            if (!amount || *amount == 0) {
                throw bad_request("amount is required: a non-zero integer in minor units",
                                  {{"field", "amount"}});
            }
            const auto note = bounded_string(body, "note", 1, 500);
            if (!note) throw bad_request("note is required", {{"field", "note"}});
            const std::string currency = s.billing.currency;
            auto adjust = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                require_user(tx, id);
                const auto account = billing::open_account(tx, id, currency);
                try {
                    const auto entry =
                        billing::post(tx, {id, "adjustment", *amount, account.currency, *note});
                    audit::record(tx, c.who, c.request_id,
                                  {"user.credit_adjust", "user", std::to_string(id),
                                   json{{"balance", account.balance}},
                                   json{{"balance", entry.balance_after},
                                        {"amount", *amount},
                                        {"entry", entry.uid},
                                        {"note", *note}}});
                } catch (const billing::billing_error& e) {
                    throw api_error(http::status::unprocessable_entity, e.code, e.what());
                }
                json out = credits_json(tx, id);
                tx.commit();
                return out;
            };
            const json out = co_await s.db.run(adjust);
            co_return json_reply(admin_data(out));
        });
}

}  // namespace vpsfleet::api::admin
