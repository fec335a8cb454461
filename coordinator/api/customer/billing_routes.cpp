#include "coordinator/api/customer/billing_routes.hpp"

#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/billing/billing_settings.hpp"
#include "coordinator/billing/invoices.hpp"
#include "coordinator/billing/ledger.hpp"
#include "coordinator/store/sql.hpp"

#include <charconv>
#include <chrono>
#include <cstdio>

namespace vpsfleet::api::customer {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

constexpr std::int64_t k_min_recharge = 5000;
constexpr std::int64_t k_max_recharge = 10'000'000;
constexpr std::int64_t k_max_alert = 100'000'000;

json settings_json(pqxx::transaction_base& tx, std::int64_t user_id) {
    const auto rows = tx.exec_params(
        "SELECT autorecharge_enabled, autorecharge_trigger, autorecharge_amount, "
        "suspend_acknowledged FROM credit_accounts WHERE user_id = $1",
        user_id);
    if (rows.empty()) {
        return {{"autorechargeEnabled", false},
                {"autorechargeTriggerOre", nullptr},
                {"autorechargeAmountOre", nullptr},
                {"suspendAcknowledged", false}};
    }
    const auto& r = rows[0];
    const auto optional_amount = [](const pqxx::field& f) -> json {
        return f.is_null() ? json(nullptr) : json(f.as<std::int64_t>());
    };
    return {{"autorechargeEnabled", r[0].as<bool>()},
            {"autorechargeTriggerOre", optional_amount(r[1])},
            {"autorechargeAmountOre", optional_amount(r[2])},
            {"suspendAcknowledged", r[3].as<bool>()}};
}

std::optional<std::int64_t> recharge_amount(const json& body, const std::string& field) {
    const auto v = optional_int(body, field);
    if (v && (*v < k_min_recharge || *v > k_max_recharge)) {
        throw bad_request(field + " must be between 5000 and 10000000", {{"field", field}});
    }
    return v;
}

json alerts_json(pqxx::transaction_base& tx, std::int64_t user_id) {
    json out = json::array();
    // Armed: the balance is above the threshold, so falling to it will send a mail.
    for (const auto& r : tx.exec_params(
             "SELECT a.threshold, coalesce(c.balance, 0) > a.threshold FROM billing_alerts a "
             "LEFT JOIN credit_accounts c ON c.user_id = a.user_id WHERE a.user_id = $1 "
             "ORDER BY a.threshold DESC",
             user_id)) {
        out.push_back({{"thresholdOre", r[0].as<std::int64_t>()}, {"armed", r[1].as<bool>()}});
    }
    return out;
}

std::int64_t threshold_param(const path_params& p) {
    const std::string& text = p.at("thresholdOre");
    std::int64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v < 0 || v > k_max_alert) {
        throw bad_request("thresholdOre must be an integer between 0 and 100000000",
                          {{"field", "thresholdOre"}});
    }
    return v;
}

// "2026-06-01T00:05:00.000Z", the document's timestamps.
std::string iso(billing::time_point t) {
    using namespace std::chrono;
    const auto day = floor<days>(t);
    const year_month_day ymd{day};
    const hh_mm_ss hms{floor<milliseconds>(t - day)};
    char buf[32];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
                  static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                  static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()),
                  static_cast<int>(hms.subseconds().count()));
    return buf;
}

json invoice_json(const billing::invoice& inv) {
    const auto ymd = std::chrono::year_month_day(
        std::chrono::floor<std::chrono::days>(inv.period_start.value_or(inv.issued_at)));
    // Paid from credits: the whole total is credit applied, nothing is left due.
    const std::int64_t credit = inv.status == "paid" ? inv.total : 0;
    return {{"uid", inv.uid},
            {"number", inv.number},
            {"provider", "vpsfleet"},
            {"kind", "prepaid"},
            {"periodYear", static_cast<int>(ymd.year())},
            {"periodMonth", static_cast<unsigned>(ymd.month())},
            {"status", inv.status},
            {"currency", inv.currency},
            {"subtotalOre", inv.subtotal},
            {"creditAppliedOre", credit},
            {"vatOre", inv.tax},
            {"totalDueOre", inv.total - credit},
            {"createdAt", iso(inv.issued_at)},
            {"paidAt", inv.paid_at ? json(iso(*inv.paid_at)) : json(nullptr)}};
}

}  // namespace

std::int64_t billing_user(const call& c) {
    if (c.who.user_id <= 0) {
        throw forbidden("unauthenticated", "Billing needs a signed-in user, not a project key");
    }
    return c.who.user_id;
}

void add_billing_routes(endpoints& api, services& s) {
    api.add(verb::get, "/billing/credits", access::account_holder(),
            [&s](http::request&, const path_params&, call& c) -> asio::awaitable<http::response> {
                const std::int64_t user_id = billing_user(c);
                auto read = [user_id](pqxx::connection& conn) {
                    pqxx::read_transaction tx(conn);
                    const auto account = billing::find_account(tx, user_id);
                    json ledger = json::array();
                    for (const auto& e : billing::recent_entries(tx, user_id, 100)) {
                        ledger.push_back({{"uid", e.uid},
                                          {"type", e.type},
                                          {"amountOre", e.amount},
                                          {"balanceAfterOre", e.balance_after},
                                          {"note", e.note},
                                          {"createdAt", e.created_at}});
                    }
                    return json{{"balanceOre", account ? account->balance : 0}, {"ledger", ledger}};
                };
                const json out = co_await s.db.run(read);
                co_return json_reply(out);
            });

    api.add(verb::get, "/billing/overview", access::account_holder(),
            [&s](http::request&, const path_params&, call& c) -> asio::awaitable<http::response> {
                const std::int64_t user_id = billing_user(c);
                const bool prepaid = s.billing.prepaid;
                auto read = [user_id, prepaid](pqxx::connection& conn) {
                    pqxx::read_transaction tx(conn);
                    const auto account = billing::find_account(tx, user_id);
                    const std::int64_t balance = account ? account->balance : 0;
                    // A day of every billed VM's monthly price (30-day month), rounded up.
                    const auto burn =
                        tx.exec_params1(
                              "SELECT coalesce(sum((pl.price_monthly_ore + 29) / 30), 0)::bigint "
                              "FROM instances i JOIN projects p ON p.id = i.project_id "
                              "JOIN plans pl ON pl.id = i.plan_id WHERE p.owner_user_id = $1 "
                              "AND i.deleted_at IS NULL AND i.expires_at IS NOT NULL "
                              "AND i.expired_at IS NULL",
                              user_id)[0]
                            .as<std::int64_t>();
                    const auto accrued =
                        tx.exec_params1(
                              "SELECT coalesce(-sum(amount), 0)::bigint FROM credit_entries "
                              "WHERE user_id = $1 AND type = 'charge' "
                              "AND created_at >= date_trunc('month', now() AT TIME ZONE 'UTC') "
                              "AT TIME ZONE 'UTC'",
                              user_id)[0]
                            .as<std::int64_t>();
                    const auto facts = tx.exec_params1(
                        "SELECT u.country, (SELECT min(price_monthly_ore) FROM plans "
                        "WHERE active) FROM users u WHERE u.id = $1",
                        user_id);
                    const std::int64_t min_credit =
                        prepaid && !facts[1].is_null() ? facts[1].as<std::int64_t>() : 0;
                    const bool can = !prepaid || balance >= min_credit;
                    json pm = nullptr;
                    if (account) {
                        const auto d = tx.exec_params1(
                            "SELECT default_payment_method FROM credit_accounts WHERE user_id = $1",
                            user_id);
                        if (!d[0].is_null()) pm = d[0].as<std::string>();
                    }
                    return json{
                        {"rail", "stripe"},
                        {"balanceOre", balance},
                        {"burnRatePerDayOre", burn},
                        {"currentPeriodAccruedOre", accrued},
                        {"defaultPaymentMethodUid", pm},
                        // Credits never expire here.
                        {"creditExpiringSoonOre", 0},
                        {"creditNextExpiryAt", nullptr},
                        {"readiness",
                         {{"canProvision", can},
                          {"reason", can ? "ok" : "insufficient_credit"},
                          {"isCompany", false},
                          {"country",
                           facts[0].is_null() ? json(nullptr) : json(facts[0].as<std::string>())},
                          {"minCreditOre", min_credit}}}};
                };
                const json out = co_await s.db.run(read);
                co_return json_reply(out);
            });

    api.add(
        verb::get, "/billing/usage", access::account_holder(),
        [&s](http::request&, const path_params&, call& c) -> asio::awaitable<http::response> {
            const std::int64_t user_id = billing_user(c);
            auto read = [user_id](pqxx::connection& conn) {
                pqxx::read_transaction tx(conn);
                json out = json::array();
                // What each VM was charged this month and the hours it has existed in it.
                for (const auto& r : tx.exec_params(
                         "SELECT i.uid, i.name, p.uid, pl.code, "
                         "(extract(epoch FROM now() - greatest(i.created_at, "
                         "date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')) "
                         "/ 3600)::bigint, coalesce((SELECT -sum(e.amount) FROM credit_entries e "
                         "WHERE e.instance_id = i.id AND e.type = 'charge' AND e.created_at >= "
                         "date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'), 0)"
                         "::bigint FROM instances i JOIN projects p ON p.id = i.project_id "
                         "JOIN plans pl ON pl.id = i.plan_id WHERE p.owner_user_id = $1 "
                         "AND (i.deleted_at IS NULL OR i.deleted_at >= date_trunc('month', "
                         "now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC') ORDER BY i.id",
                         user_id)) {
                    out.push_back({{"resourceUid", r[0].as<std::string>()},
                                   {"resourceName", r[1].as<std::string>()},
                                   {"resourceType", "instance"},
                                   {"projectUid", r[2].as<std::string>()},
                                   {"sku", r[3].as<std::string>()},
                                   {"hours", r[4].as<std::int64_t>()},
                                   {"amountOre", r[5].as<std::int64_t>()}});
                }
                return out;
            };
            const json out = co_await s.db.run(read);
            co_return json_reply(out);
        });

    api.add(verb::get, "/billing/invoices", access::account_holder(),
            [&s](http::request&, const path_params&, call& c) -> asio::awaitable<http::response> {
                const std::int64_t user_id = billing_user(c);
                auto read = [user_id](pqxx::connection& conn) {
                    json out = json::array();
                    for (const auto& inv : billing::list_invoices(conn, user_id, 100)) {
                        out.push_back(invoice_json(inv));
                    }
                    return out;
                };
                const json out = co_await s.db.run(read);
                co_return json_reply(out);
            });

    api.add(verb::get, "/billing/invoices/{uid}/pdf", access::account_holder(),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const std::int64_t user_id = billing_user(c);
                const std::string uid = p.at("uid");
                auto render = [&](pqxx::connection& conn) {
                    const auto inv = billing::get_invoice(conn, uid);
                    if (!inv || inv->user_id != user_id) {
                        throw not_found("invoice_not_found", "Invoice not found");
                    }
                    return std::make_pair(
                        inv->number,
                        billing::render_invoice_pdf(*inv, billing::seller_for(*inv, s.billing)));
                };
                auto [number, pdf] = co_await s.db.run(render);
                auto res = http::text_response(http::status::ok, std::move(pdf), "application/pdf");
                res.set(boost::beast::http::field::content_disposition,
                        "attachment; filename=\"" + number + ".pdf\"");
                co_return res;
            });

    api.add(verb::get, "/billing/settings", access::account_holder(),
            [&s](http::request&, const path_params&, call& c) -> asio::awaitable<http::response> {
                const std::int64_t user_id = billing_user(c);
                auto read = [user_id](pqxx::connection& conn) {
                    pqxx::read_transaction tx(conn);
                    return settings_json(tx, user_id);
                };
                const json out = co_await s.db.run(read);
                co_return json_reply(out);
            });

    api.add(
        verb::put, "/billing/settings", access::account_holder(),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const std::int64_t user_id = billing_user(c);
            const json body = json_body(req);
            const auto enabled = optional_bool(body, "autorechargeEnabled");
            if (!enabled) {
                throw bad_request("autorechargeEnabled is required",
                                  {{"field", "autorechargeEnabled"}});
            }
            const auto trigger = recharge_amount(body, "autorechargeTriggerOre");
            const auto amount = recharge_amount(body, "autorechargeAmountOre");
            const auto acknowledged = optional_bool(body, "suspendAcknowledged");
            if (*enabled && (!trigger || !amount)) {
                throw api_error(http::status::bad_request, "autorecharge_incomplete",
                                "Auto-recharge needs both a trigger and an amount");
            }
            const std::string currency = s.billing.currency;
            auto update = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                billing::open_account(tx, user_id, currency);
                const json before = settings_json(tx, user_id);
                // suspendAcknowledged is write-once: true stays true.
                tx.exec_params(
                    "UPDATE credit_accounts SET autorecharge_enabled = $2, "
                    "autorecharge_trigger = $3, autorecharge_amount = $4, "
                    "suspend_acknowledged = suspend_acknowledged OR coalesce($5, false), "
                    "updated_at = now() WHERE user_id = $1",
                    user_id, *enabled, trigger, amount, acknowledged);
                const json after = settings_json(tx, user_id);
                audit::record(tx, c.who, c.request_id,
                              {"billing.update_settings", "user", c.who.user_uid, before, after});
                tx.commit();
            };
            co_await s.db.run(update);
            co_return no_content();
        });

    api.add(verb::get, "/billing/alerts", access::account_holder(),
            [&s](http::request&, const path_params&, call& c) -> asio::awaitable<http::response> {
                const std::int64_t user_id = billing_user(c);
                auto read = [user_id](pqxx::connection& conn) {
                    pqxx::read_transaction tx(conn);
                    return alerts_json(tx, user_id);
                };
                const json out = co_await s.db.run(read);
                co_return json_reply(out);
            });

    api.add(
        verb::post, "/billing/alerts", access::account_holder(),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const std::int64_t user_id = billing_user(c);
            const auto threshold = optional_int(json_body(req), "thresholdOre");
            if (!threshold || *threshold < 0 || *threshold > k_max_alert) {
                throw bad_request("thresholdOre must be an integer between 0 and 100000000",
                                  {{"field", "thresholdOre"}});
            }
            auto upsert = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                tx.exec_params(
                    "INSERT INTO billing_alerts (user_id, threshold) VALUES ($1, $2) "
                    "ON CONFLICT (user_id, threshold) DO NOTHING",
                    user_id, *threshold);
                audit::record(tx, c.who, c.request_id,
                              {"billing.alert_create", "user", c.who.user_uid, nullptr,
                               json{{"thresholdOre", *threshold}}});
                tx.commit();
            };
            co_await s.db.run(upsert);
            co_return no_content();
        });

    api.add(verb::delete_, "/billing/alerts/{thresholdOre}", access::account_holder(),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const std::int64_t user_id = billing_user(c);
                const std::int64_t threshold = threshold_param(p);
                auto remove = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    const auto gone = tx.exec_params(
                        "DELETE FROM billing_alerts WHERE user_id = $1 AND threshold = $2", user_id,
                        threshold);
                    if (gone.affected_rows() > 0) {
                        audit::record(tx, c.who, c.request_id,
                                      {"billing.alert_delete", "user", c.who.user_uid,
                                       json{{"thresholdOre", threshold}}, nullptr});
                    }
                    tx.commit();
                };
                co_await s.db.run(remove);
                co_return no_content();
            });
}

}  // namespace vpsfleet::api::customer
