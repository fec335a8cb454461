// LNVPS "Reports": a company's VM payments (TimeSeriesPayment) and referred VMs over a range of
// UTC days, both ends included. A VM counts for the company its host's region belongs to now.
// There is no exchange-rate source here, so nothing is converted: rate is 1.0 for money in the
// company's base currency and null for any other. The time series lists the base currency's
// payments, or with ?currency= only that currency's; amount is what the payment took (tax
// included, as /vms/{id}/payments shows it) and tax the part of it that was tax (its invoice's).
#include "common/ascii_case.hpp"
#include "coordinator/api/admin/company_routes.hpp"
#include "coordinator/api/admin/fields.hpp"
#include "coordinator/api/admin/role_routes.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/billing/money.hpp"
#include "coordinator/billing/prepaid.hpp"
#include "coordinator/store/sql.hpp"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <regex>

namespace vpsfleet::api::admin {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

struct report_request {
    std::string start_date;
    std::string end_date;
    std::int64_t company_id = 0;
};

std::string date_param(const http::request& req, const char* name) {
    const auto text = query_param(req, name);
    if (!text) throw bad_request(std::string(name) + " is required (YYYY-MM-DD)");
    static const std::regex k_date(R"(^(\d{4})-(\d{2})-(\d{2})$)");
    std::smatch m;
    using namespace std::chrono;
    if (!std::regex_match(*text, m, k_date) ||
        !year_month_day{year(std::stoi(m[1])), month(static_cast<unsigned>(std::stoi(m[2]))),
                        day(static_cast<unsigned>(std::stoi(m[3])))}
             .ok() ||
        std::stoi(m[1]) < 1900) {
        throw bad_request(std::string(name) + " must be a date as YYYY-MM-DD, e.g. 2025-01-31");
    }
    return *text;
}

report_request report_params(const http::request& req) {
    report_request r{date_param(req, "start_date"), date_param(req, "end_date"), 0};
    if (r.end_date < r.start_date) throw bad_request("end_date must not be before start_date");
    const auto company = query_id(req, "company_id");
    if (!company) throw bad_request("company_id is required");
    r.company_id = *company;
    return r;
}

struct company_row {
    std::string name;
    std::string base_currency;
};

company_row company_of(pqxx::work& tx, std::int64_t id) {
    const auto rows = tx.exec_params("SELECT name, base_currency FROM companies WHERE id = $1", id);
    if (rows.empty()) throw not_found("company_not_found", "company not found");
    return {rows[0][0].as<std::string>(), rows[0][1].as<std::string>()};
}

json rate_for(const std::string& currency, const std::string& base) {
    return currency == base ? json(1.0) : json(nullptr);
}

// The day range as timestamptz bounds: [$2 00:00 UTC, $3 + 1 day 00:00 UTC).
const std::string k_in_days =
    " >= ($2::date)::timestamp AT TIME ZONE 'UTC' AND {} < "
    "($3::date + 1)::timestamp AT TIME ZONE 'UTC' ";

std::string in_days(const std::string& column) {
    std::string out = column + k_in_days;
    out.replace(out.find("{}"), 2, column);
    return out;
}

const std::string k_company_vms =
    "JOIN instances i ON i.id = p.instance_id "
    "JOIN hosts h ON h.id = i.host_id "
    "JOIN regions g ON g.id = h.region_id AND g.company_id = $1 ";

}  // namespace

void add_report_routes(endpoints& api, services& s) {
    api.add(verb::get, "/reports/time-series", access::op("analytics::view"),
            [&s](http::request& req, const path_params&, call&) -> asio::awaitable<http::response> {
                const report_request r = report_params(req);
                auto currency = query_param(req, "currency");
                if (currency) {
                    *currency = ascii_upper(*currency);
                    if (!billing::is_currency_code(*currency)) {
                        throw bad_request("currency must be a 3-letter currency code such as EUR");
                    }
                }
                auto report = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    const company_row company = company_of(tx, r.company_id);
                    const std::string wanted = currency.value_or(company.base_currency);
                    json payments = json::array();
                    for (const auto& p : tx.exec_params(
                             "SELECT p.uid, p.instance_id, " + store::iso8601("p.created_at") +
                                 ", " + store::iso8601("p.expires_at") +
                                 ", p.amount, p.currency, p.method, p.external_id, "
                                 "p.status = 'paid', p.time_value, COALESCE(v.tax, 0) "
                                 "FROM payments p " +
                                 k_company_vms +
                                 "LEFT JOIN invoices v ON v.idempotency_key = $5 || p.uid "
                                 "WHERE p.purpose = 'vm_renewal' AND p.currency = $4 AND " +
                                 in_days("p.created_at") + "ORDER BY p.created_at, p.id",
                             r.company_id, r.start_date, r.end_date, wanted,
                             std::string(billing::k_period_invoice_key))) {
                        const auto paid_in = p[5].as<std::string>();
                        payments.push_back({{"id", p[0].as<std::string>()},
                                            {"vm_id", p[1].as<std::int64_t>()},
                                            {"created", p[2].as<std::string>()},
                                            {"expires", p[3].as<std::string>()},
                                            {"amount", p[4].as<std::int64_t>()},
                                            {"currency", paid_in},
                                            {"payment_method", p[6].as<std::string>()},
                                            {"external_id", text_or_null(p[7])},
                                            {"is_paid", p[8].as<bool>()},
                                            {"rate", rate_for(paid_in, company.base_currency)},
                                            {"time_value", p[9].as<std::int64_t>()},
                                            {"tax", p[10].as<std::int64_t>()},
                                            {"company_id", r.company_id},
                                            {"company_name", company.name},
                                            {"company_base_currency", company.base_currency}});
                    }
                    return json{{"start_date", r.start_date},
                                {"end_date", r.end_date},
                                {"payments", std::move(payments)}};
                };
                const json out = co_await s.db.run(report);
                co_return json_reply(admin_data(out));
            });

    // One row per referred VM: its first paid period, when that was paid within the range.
    api.add(verb::get, "/reports/referral-usage/time-series", access::op("analytics::view"),
            [&s](http::request& req, const path_params&, call&) -> asio::awaitable<http::response> {
                const report_request r = report_params(req);
                const auto ref_code = query_param(req, "ref_code");
                auto report = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    const company_row company = company_of(tx, r.company_id);
                    json referrals = json::array();
                    for (const auto& p : tx.exec_params(
                             "SELECT p.instance_id, i.ref_code, " + store::iso8601("p.created_at") +
                                 ", p.amount, p.currency FROM payments p " + k_company_vms +
                                 "WHERE i.ref_code IS NOT NULL AND ($4::text IS NULL OR i.ref_code "
                                 "= $4) AND p.id = (SELECT min(f.id) FROM payments f WHERE "
                                 "f.instance_id = i.id AND f.purpose = 'vm_renewal' AND f.status = "
                                 "'paid') AND " +
                                 in_days("p.created_at") + "ORDER BY p.created_at, p.id",
                             r.company_id, r.start_date, r.end_date, ref_code)) {
                        const auto paid_in = p[4].as<std::string>();
                        referrals.push_back({{"vm_id", p[0].as<std::int64_t>()},
                                             {"ref_code", p[1].as<std::string>()},
                                             {"created", p[2].as<std::string>()},
                                             {"amount", p[3].as<std::int64_t>()},
                                             {"currency", paid_in},
                                             {"rate", rate_for(paid_in, company.base_currency)},
                                             {"base_currency", company.base_currency}});
                    }
                    return json{{"start_date", r.start_date},
                                {"end_date", r.end_date},
                                {"referrals", std::move(referrals)}};
                };
                const json out = co_await s.db.run(report);
                co_return json_reply(admin_data(out));
            });
}

}  // namespace vpsfleet::api::admin
