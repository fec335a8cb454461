#include "coordinator/api/customer/payment_routes.hpp"

#include "common/log.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/api/customer/billing_routes.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/billing/card_refunds.hpp"
#include "coordinator/billing/ledger.hpp"
#include "coordinator/billing/stripe_webhook.hpp"
#include "coordinator/billing/topups.hpp"

#include <functional>

namespace vpsfleet::api::customer {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

constexpr std::int64_t k_min_topup = 5000;
constexpr std::int64_t k_max_topup = 10'000'000;

billing::payment_provider& provider(services& s) {
    if (s.payments == nullptr || !s.billing.stripe) {
        throw api_error(http::status::service_unavailable, "provider_not_configured",
                        "Card payments are not configured on this installation");
    }
    return *s.payments;
}

// The user's account with its provider customer, created at the provider on first use.
billing::account customer_account(pqxx::connection& conn, services& s, std::int64_t user_id,
                                  std::string& customer_id) {
    pqxx::work tx(conn);
    const auto account = billing::open_account(tx, user_id, s.billing.currency);
    const auto row = tx.exec_params1(
        "SELECT c.provider_customer_id, u.email, coalesce(u.fullname, '') FROM credit_accounts c "
        "JOIN users u ON u.id = c.user_id WHERE c.user_id = $1 FOR UPDATE OF c",
        user_id);
    if (!row[0].is_null()) {
        customer_id = row[0].as<std::string>();
        tx.commit();
        return account;
    }
    customer_id = provider(s).create_customer(row[1].as<std::string>(), row[2].as<std::string>(),
                                              "customer-" + std::to_string(user_id));
    tx.exec_params("UPDATE credit_accounts SET provider_customer_id = $2 WHERE user_id = $1",
                   user_id, customer_id);
    tx.commit();
    return account;
}

api_error payment_failed(const billing::payment_error& e) {
    if (e.type == "card_error") {
        return api_error(http::status::payment_required, "billing_" + e.code, e.what());
    }
    log::warn("payment provider call failed", {{"code", e.code}, {"error", e.what()}});
    return api_error(http::status::bad_gateway, "provider_failed",
                     "The payment provider did not complete the request; try again");
}

std::string with_query(const std::string& url, const std::string& query) {
    return url + (url.find('?') == std::string::npos ? "?" : "&") + query;
}

std::string default_method(pqxx::transaction_base& tx, std::int64_t user_id) {
    const auto rows = tx.exec_params(
        "SELECT default_payment_method FROM credit_accounts WHERE user_id = $1", user_id);
    return rows.empty() || rows[0][0].is_null() ? std::string() : rows[0][0].as<std::string>();
}

// Settles or fails what a verified Stripe event reports, inside the event's transaction.
void apply_event(pqxx::work& tx, const billing::webhook_event& event) {
    const json& o = event.data_object;
    if (event.type == "payment_intent.succeeded") {
        const auto outcome = billing::settle_topup(
            tx, "stripe", o.value("id", ""), o.value("amount", std::int64_t{0}), [&] {
                std::string c = o.value("currency", "");
                for (auto& ch : c)
                    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
                return c;
            }());
        if (outcome == billing::settle_outcome::mismatch ||
            outcome == billing::settle_outcome::unknown_payment) {
            log::warn("stripe payment not credited",
                      {{"payment_intent", o.value("id", "")},
                       {"reason", outcome == billing::settle_outcome::mismatch
                                      ? "amount or currency differs from the top-up"
                                      : "no top-up with this payment intent"}});
        }
    } else if (event.type == "payment_intent.payment_failed") {
        const auto error = o.value("last_payment_error", json::object());
        billing::fail_topup(tx, "stripe", o.value("id", ""),
                            error.is_object() ? error.value("message", "declined") : "declined");
    } else if (event.type == "refund.updated" || event.type == "refund.failed") {
        // A card refund settling (pending -> succeeded) or failing later. charge.refunded is not
        // used: since API version 2022-11-15 the charge no longer lists its refunds.
        const auto text = [&o](const char* key) {
            return o.contains(key) && o[key].is_string() ? o[key].get<std::string>() : "";
        };
        if (!billing::settle_card_refund(tx, "stripe", text("id"), text("status"),
                                         text("failure_reason"))) {
            log::info("stripe refund event for no refund of ours", {{"refund", o.value("id", "")}});
        }
    } else if (event.type == "setup_intent.succeeded") {
        // A newly saved card becomes the default when there is none yet.
        tx.exec_params(
            "UPDATE credit_accounts SET default_payment_method = $2 "
            "WHERE provider_customer_id = $1 AND default_payment_method IS NULL",
            o.value("customer", ""), o.value("payment_method", ""));
    }
}

// A route acting on one of the caller's saved cards ({method}): 404 unless the provider lists it
// for the caller's customer; `change` runs in a transaction committed with the audit entry.
using card_change =
    std::function<void(pqxx::work&, billing::payment_provider&, std::int64_t, const std::string&)>;

void add_saved_card_route(endpoints& api, services& s, verb method_verb, const std::string& path,
                          const std::string& action, card_change change) {
    api.add(method_verb, path, access::account_holder(),
            [&s, action, change](http::request&, const path_params& p,
                                 call& c) -> asio::awaitable<http::response> {
                const std::int64_t user_id = billing_user(c);
                const std::string method = p.at("method");
                billing::payment_provider& pay = provider(s);
                auto act = [&](pqxx::connection& conn) {
                    std::string customer;
                    customer_account(conn, s, user_id, customer);
                    bool owned = false;
                    for (const auto& m : pay.list_payment_methods(customer)) {
                        owned = owned || m.id == method;
                    }
                    if (!owned) {
                        throw not_found("payment_method_not_found", "No such saved card");
                    }
                    pqxx::work tx(conn);
                    change(tx, pay, user_id, method);
                    audit::record(tx, c.who, c.request_id,
                                  {action, "user", c.who.user_uid, nullptr,
                                   json{{"payment_method", method}}});
                    tx.commit();
                };
                try {
                    co_await s.db.run(act);
                } catch (const billing::payment_error& e) {
                    throw payment_failed(e);
                }
                co_return no_content();
            });
}

}  // namespace

void add_payment_routes(endpoints& api, services& s) {
    api.add(
        verb::post, "/billing/top-up", access::account_holder(),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const std::int64_t user_id = billing_user(c);
            const json body = json_body(req);
            const auto amount = optional_int(body, "amountOre");
            if (!amount || *amount < k_min_topup || *amount > k_max_topup) {
                throw bad_request("amountOre must be an integer between 5000 and 10000000",
                                  {{"field", "amountOre"}});
            }
            billing::payment_provider& pay = provider(s);
            auto top_up = [&](pqxx::connection& conn) {
                std::string customer;
                const auto account = customer_account(conn, s, user_id, customer);
                std::string card;
                billing::pending_topup pending;
                {
                    pqxx::work tx(conn);
                    card = default_method(tx, user_id);
                    pending = billing::create_pending_topup(tx, user_id, "stripe", *amount,
                                                            account.currency);
                    audit::record(tx, c.who, c.request_id,
                                  {"billing.top_up", "user", c.who.user_uid, nullptr,
                                   json{{"payment", pending.uid}, {"amountOre", *amount}}});
                    tx.commit();
                }
                billing::intent_request ask;
                ask.customer_id = customer;
                ask.amount = *amount;
                ask.currency = account.currency;
                ask.description = "Credit top-up";
                ask.metadata = {{"payment", pending.uid}, {"user", std::to_string(user_id)}};
                if (!card.empty()) {
                    ask.payment_method = card;
                    ask.confirm = true;
                }
                billing::payment_intent intent;
                try {
                    intent = pay.create_payment_intent(ask, "topup-" + pending.uid);
                } catch (const billing::payment_error& e) {
                    pqxx::work tx(conn);
                    if (!e.payment_intent_id.empty()) {
                        billing::attach_external_id(tx, pending.id, e.payment_intent_id);
                    }
                    tx.exec_params(
                        "UPDATE payments SET status = 'failed', failure = $2 "
                        "WHERE id = $1",
                        pending.id, std::string(e.what()));
                    tx.commit();
                    throw payment_failed(e);
                }
                pqxx::work tx(conn);
                billing::attach_external_id(tx, pending.id, intent.id);
                std::string status = "pending";
                if (intent.status == "succeeded") {
                    billing::settle_topup(tx, "stripe", intent.id, intent.amount, intent.currency);
                    status = "succeeded";
                }
                tx.commit();
                json out = {{"redirectUrl", nullptr}, {"status", status}};
                if (status == "pending") {
                    out["redirectUrl"] = with_query(
                        s.billing.stripe->checkout_url,
                        "payment_intent=" + intent.id + "&client_secret=" + intent.client_secret);
                }
                return out;
            };
            const json out = co_await s.db.run(top_up);
            co_return json_reply(out);
        });

    api.add(verb::get, "/billing/payment-methods", access::account_holder(),
            [&s](http::request&, const path_params&, call& c) -> asio::awaitable<http::response> {
                const std::int64_t user_id = billing_user(c);
                auto list = [&](pqxx::connection& conn) {
                    json out = json::array();
                    std::string customer;
                    std::string preferred;
                    {
                        pqxx::read_transaction tx(conn);
                        const auto rows = tx.exec_params(
                            "SELECT provider_customer_id, default_payment_method, "
                            "to_char(created_at AT TIME ZONE 'UTC', "
                            "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') FROM credit_accounts "
                            "WHERE user_id = $1",
                            user_id);
                        if (rows.empty() || rows[0][0].is_null() || s.payments == nullptr) {
                            return out;
                        }
                        customer = rows[0][0].as<std::string>();
                        preferred = rows[0][1].is_null() ? "" : rows[0][1].as<std::string>();
                    }
                    for (const auto& m : s.payments->list_payment_methods(customer)) {
                        out.push_back({{"uid", m.id},
                                       {"provider", "stripe"},
                                       {"status", "active"},
                                       {"isDefault", m.id == preferred},
                                       {"label", m.brand + " •••• " + m.last4 + " (" +
                                                     std::to_string(m.exp_month) + "/" +
                                                     std::to_string(m.exp_year) + ")"}});
                    }
                    return out;
                };
                json out;
                try {
                    out = co_await s.db.run(list);
                } catch (const billing::payment_error& e) {
                    throw payment_failed(e);
                }
                co_return json_reply(out);
            });

    api.add(verb::post, "/billing/payment-methods/stripe", access::account_holder(),
            [&s](http::request&, const path_params&, call& c) -> asio::awaitable<http::response> {
                const std::int64_t user_id = billing_user(c);
                billing::payment_provider& pay = provider(s);
                auto start = [&](pqxx::connection& conn) {
                    std::string customer;
                    customer_account(conn, s, user_id, customer);
                    const auto setup = pay.create_setup_intent(
                        customer,
                        "setup-" + std::to_string(user_id) + "-" +
                            std::to_string(
                                std::chrono::system_clock::now().time_since_epoch().count()));
                    return json{
                        {"redirectUrl", with_query(s.billing.stripe->checkout_url,
                                                   "setup_intent=" + setup.id +
                                                       "&client_secret=" + setup.client_secret)}};
                };
                json out;
                try {
                    out = co_await s.db.run(start);
                } catch (const billing::payment_error& e) {
                    throw payment_failed(e);
                }
                co_return json_reply(out);
            });

    add_saved_card_route(api, s, verb::put, "/billing/payment-methods/{method}/default",
                         "billing.default_payment_method",
                         [](pqxx::work& tx, billing::payment_provider&, std::int64_t user_id,
                            const std::string& method) {
                             tx.exec_params(
                                 "UPDATE credit_accounts SET default_payment_method = "
                                 "$2 WHERE user_id = $1",
                                 user_id, method);
                         });

    add_saved_card_route(api, s, verb::delete_, "/billing/payment-methods/{method}",
                         "billing.remove_payment_method",
                         [](pqxx::work& tx, billing::payment_provider& pay, std::int64_t user_id,
                            const std::string& method) {
                             pay.detach_payment_method(method);
                             tx.exec_params(
                                 "UPDATE credit_accounts SET default_payment_method = "
                                 "NULL WHERE user_id = $1 AND "
                                 "default_payment_method = $2",
                                 user_id, method);
                         });

    api.add(verb::post, "/billing/webhooks/stripe", access::anyone(),
            [&s](http::request& req, const path_params&, call&) -> asio::awaitable<http::response> {
                provider(s);
                const auto header = req["Stripe-Signature"];
                const std::string signature(header.data(), header.size());
                const auto checked = billing::verify_stripe_webhook(
                    req.body(), signature, s.billing.stripe->webhook_secret);
                if (checked.verdict != billing::webhook_verdict::ok) {
                    throw api_error(
                        http::status::bad_request, "invalid_signature",
                        "Webhook refused: " + std::string(billing::verdict_name(checked.verdict)));
                }
                const billing::webhook_event event = checked.event;
                auto record = [event](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    const auto fresh = tx.exec_params(
                        "INSERT INTO webhook_events (provider, event_id, type) "
                        "VALUES ('stripe', $1, $2) ON CONFLICT DO NOTHING",
                        event.id, event.type);
                    if (fresh.affected_rows() == 0) return false;  // seen before: acted on then
                    apply_event(tx, event);
                    tx.commit();
                    return true;
                };
                const bool acted = co_await s.db.run(record);
                co_return json_reply({{"received", true}, {"duplicate", !acted}});
            });
}

}  // namespace vpsfleet::api::customer
