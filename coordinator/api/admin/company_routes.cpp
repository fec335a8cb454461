#include "coordinator/api/admin/company_routes.hpp"

#include "common/ascii_case.hpp"
#include "coordinator/api/admin/fields.hpp"
#include "coordinator/api/admin/read_routes.hpp"
#include "coordinator/api/admin/role_routes.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/auth/accounts.hpp"
#include "coordinator/store/sql.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>
#include <vector>

namespace vpsfleet::api::admin {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

constexpr std::array<std::string_view, 8> k_currencies = {"EUR", "USD", "GBP", "CAD",
                                                          "CHF", "AUD", "JPY", "BTC"};
constexpr std::array<const char*, 9> k_optional_fields = {"address_1", "address_2",    "city",
                                                          "state",     "country_code", "tax_id",
                                                          "postcode",  "phone",        "email"};
constexpr std::size_t k_max_text = 200;

const std::string k_company_select =
    "SELECT c.id, " + store::iso8601("c.created_at") +
    ", c.name, c.address_1, c.address_2, c.city, c.state, c.country_code, c.tax_id, "
    "c.base_currency, c.postcode, c.phone, c.email, "
    "(SELECT count(*) FROM regions g WHERE g.company_id = c.id) FROM companies c ";

json company_json(const pqxx::row& r) {
    return {{"id", r[0].as<std::int64_t>()},   {"created", r[1].as<std::string>()},
            {"name", r[2].as<std::string>()},  {"address_1", text_or_null(r[3])},
            {"address_2", text_or_null(r[4])}, {"city", text_or_null(r[5])},
            {"state", text_or_null(r[6])},     {"country_code", text_or_null(r[7])},
            {"tax_id", text_or_null(r[8])},    {"base_currency", r[9].as<std::string>()},
            {"postcode", text_or_null(r[10])}, {"phone", text_or_null(r[11])},
            {"email", text_or_null(r[12])},    {"region_count", r[13].as<std::int64_t>()}};
}

json read_company(pqxx::work& tx, std::int64_t id) {
    return read_one(tx, k_company_select + "WHERE c.id = $1", id, "company_not_found",
                    "company not found", company_json);
}

bool blank(const std::string& s) {
    return std::ranges::all_of(s, [](unsigned char c) { return std::isspace(c) != 0; });
}

void check_length(const std::string& field, const std::string& value) {
    if (utf8_length(value) > k_max_text) {
        throw bad_request(field + " must be at most " + std::to_string(k_max_text) + " characters",
                          {{"field", field}});
    }
}

std::string currency_field(const json& body) {
    const auto given = optional_string(body, "base_currency");
    const std::string code = ascii_upper(given.value_or(""));
    if (std::ranges::find(k_currencies, code) == k_currencies.end()) {
        std::string valid;
        for (const auto c : k_currencies) valid += (valid.empty() ? "" : ", ") + std::string(c);
        throw bad_request((given ? "base_currency '" + *given + "' is not supported"
                                 : std::string("base_currency is required")) +
                              "; valid currencies: " + valid,
                          {{"field", "base_currency"}});
    }
    return code;
}

// Empty strings (and null) clear an optional field.
std::optional<std::string> optional_text(const json& body, const std::string& field) {
    auto value = optional_string(body, field);
    if (!value || value->empty()) return std::nullopt;
    check_length(field, *value);
    if (field == "country_code") {
        *value = ascii_upper(*value);
        const bool letters =
            std::ranges::all_of(*value, [](unsigned char c) { return c >= 'A' && c <= 'Z'; });
        if (!letters || value->size() < 2 || value->size() > 3) {
            throw bad_request("country_code must be an ISO 3166 code of 2 or 3 letters, e.g. DK",
                              {{"field", field}});
        }
    }
    if (field == "email" && !auth::valid_email(*value)) {
        throw bad_request("email must be an email address", {{"field", field}});
    }
    return value;
}

// The columns a request sets, in order; for a create every required one is present.
using company_fields = std::vector<std::pair<std::string, std::optional<std::string>>>;

company_fields parse_company(const json& body, bool create) {
    company_fields set;
    if (create || body.contains("name")) {
        const auto name = optional_string(body, "name");
        if (!name || blank(*name)) {
            throw bad_request(create ? "name is required" : "name cannot be empty",
                              {{"field", "name"}});
        }
        check_length("name", *name);
        set.emplace_back("name", *name);
    }
    if (create || body.contains("base_currency")) {
        set.emplace_back("base_currency", currency_field(body));
    }
    for (const char* field : k_optional_fields) {
        if (body.contains(field)) set.emplace_back(field, optional_text(body, field));
    }
    return set;
}

void write_company(pqxx::work& tx, std::int64_t id, const company_fields& set) {
    for (const auto& [column, value] : set) {
        // Column names come from the fixed lists above, never from the request.
        tx.exec_params("UPDATE companies SET " + column + " = $2 WHERE id = $1", id, value);
    }
}

}  // namespace

void require_company(pqxx::work& tx, std::optional<std::int64_t> company_id) {
    if (!company_id) return;
    if (tx.exec_params("SELECT 1 FROM companies WHERE id = $1 FOR KEY SHARE", *company_id)
            .empty()) {
        throw bad_request("company " + std::to_string(*company_id) + " does not exist",
                          {{"field", "company_id"}});
    }
}

void add_company_routes(endpoints& api, services& s) {
    add_list_route(api, s, "/companies", "company::view", "SELECT count(*) FROM companies",
                   k_company_select + "ORDER BY c.id", company_json);
    add_get_route(api, s, "/companies/{id}", "company::view", read_company);

    api.add(
        verb::post, "/companies", access::op("company::create"),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const company_fields set = parse_company(json_body(req), true);
            auto create = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const auto id = tx.exec_params1(
                                      "INSERT INTO companies (name, base_currency) VALUES ($1, "
                                      "$2) RETURNING id",
                                      *set[0].second, *set[1].second)[0]
                                    .as<std::int64_t>();
                write_company(tx, id, set);
                const json company = read_company(tx, id);
                audit::record(tx, c.who, c.request_id,
                              {"company.create", "company", std::to_string(id), nullptr, company});
                tx.commit();
                return company;
            };
            const json company = co_await s.db.run(create);
            co_return json_reply(admin_data(company), http::status::created);
        });

    api.add(
        verb::patch, "/companies/{id}", access::op("company::update"),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const auto id = id_param(p, "id");
            const company_fields set = parse_company(json_body(req), false);
            auto update = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                tx.exec_params("SELECT 1 FROM companies WHERE id = $1 FOR UPDATE", id);
                const json before = read_company(tx, id);
                write_company(tx, id, set);
                const json after = read_company(tx, id);
                audit::record(tx, c.who, c.request_id,
                              {"company.update", "company", std::to_string(id), before, after});
                tx.commit();
                return after;
            };
            const json company = co_await s.db.run(update);
            co_return json_reply(admin_data(company));
        });

    api.add(
        verb::delete_, "/companies/{id}", access::op("company::delete"),
        [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const auto id = id_param(p, "id");
            auto remove = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                tx.exec_params("SELECT 1 FROM companies WHERE id = $1 FOR UPDATE", id);
                const json before = read_company(tx, id);
                const auto regions = before["region_count"].get<std::int64_t>();
                if (regions > 0) {
                    throw conflict("company_in_use", "the company still has " +
                                                         std::to_string(regions) +
                                                         (regions == 1 ? " region" : " regions") +
                                                         "; reassign or remove its regions first");
                }
                tx.exec_params("DELETE FROM companies WHERE id = $1", id);
                audit::record(tx, c.who, c.request_id,
                              {"company.delete", "company", std::to_string(id), before, nullptr});
                tx.commit();
            };
            co_await s.db.run(remove);
            co_return json_reply(admin_data(nullptr));
        });
}

}  // namespace vpsfleet::api::admin
