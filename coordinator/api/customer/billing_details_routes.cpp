#include "coordinator/api/customer/billing_details_routes.hpp"

#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/api/customer/billing_routes.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/auth/accounts.hpp"
#include "coordinator/store/json_fields.hpp"

namespace vpsfleet::api::customer {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

std::string text_field(const json& body, const std::string& field, std::size_t min,
                       std::size_t max) {
    const auto value =
        min > 0 ? std::optional(required_string(body, field)) : optional_string(body, field);
    const std::string text = value.value_or("");
    if (text.size() < min || text.size() > max) {
        throw bad_request(
            field + " must be " + std::to_string(min) + "-" + std::to_string(max) + " characters",
            {{"field", field}});
    }
    return text;
}

struct details {
    bool is_company = false;
    std::string name, email, street, zip_code, city, country, phone, vat_number, ean_number;
};

details parse(const json& body) {
    details d;
    const auto company = optional_bool(body, "isCompany");
    if (!company) throw bad_request("isCompany is required", {{"field", "isCompany"}});
    d.is_company = *company;
    d.name = text_field(body, "name", 1, 128);
    d.email = text_field(body, "email", 1, 254);
    if (!auth::valid_email(d.email)) throw bad_request("Invalid email", {{"field", "email"}});
    d.street = text_field(body, "street", 1, 160);
    d.zip_code = text_field(body, "zipCode", 1, 16);
    d.city = text_field(body, "city", 1, 96);
    d.country = text_field(body, "country", 2, 2);
    for (char& ch : d.country) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    if (d.country.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string::npos) {
        throw bad_request("country must be an ISO 3166-1 alpha-2 code such as DK",
                          {{"field", "country"}});
    }
    d.phone = text_field(body, "phone", 0, 32);
    d.vat_number = text_field(body, "vatNumber", 0, 32);
    d.ean_number = text_field(body, "eanNumber", 0, 32);
    return d;
}

// An optional field left out or empty is stored as NULL.
std::optional<std::string> unless_empty(const std::string& s) {
    return s.empty() ? std::nullopt : std::optional(s);
}

}  // namespace

void add_billing_details_routes(endpoints& api, services& s) {
    api.add(verb::get, "/billing/details", access::account_holder(),
            [&s](http::request&, const path_params&, call& c) -> asio::awaitable<http::response> {
                const std::int64_t user_id = billing_user(c);
                auto read = [user_id](pqxx::connection& conn) {
                    pqxx::read_transaction tx(conn);
                    const auto r = tx.exec_params1(
                        "SELECT billing_is_company, billing_name, billing_email, "
                        "billing_address_1, billing_postcode, billing_city, country, "
                        "billing_phone, billing_tax_id, billing_ean FROM users WHERE id = $1",
                        user_id);
                    if (r[0].is_null()) return json(nullptr);  // never saved
                    return json{{"isCompany", r[0].as<bool>()},
                                {"name", store::text_or_null(r[1])},
                                {"email", store::text_or_null(r[2])},
                                {"street", store::text_or_null(r[3])},
                                {"zipCode", store::text_or_null(r[4])},
                                {"city", store::text_or_null(r[5])},
                                {"country", store::text_or_null(r[6])},
                                {"phone", store::text_or_null(r[7])},
                                {"vatNumber", store::text_or_null(r[8])},
                                {"eanNumber", store::text_or_null(r[9])}};
                };
                const json out = co_await s.db.run(read);
                co_return json_reply(out);
            });

    api.add(
        verb::put, "/billing/details", access::account_holder(),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const std::int64_t user_id = billing_user(c);
            const details d = parse(json_body(req));
            auto save = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                tx.exec_params(
                    "UPDATE users SET billing_is_company = $2, billing_name = $3, "
                    "billing_email = $4, billing_address_1 = $5, billing_postcode = $6, "
                    "billing_city = $7, country = $8, billing_phone = $9, "
                    "billing_tax_id = $10, billing_ean = $11 WHERE id = $1",
                    user_id, d.is_company, d.name, d.email, d.street, d.zip_code, d.city, d.country,
                    unless_empty(d.phone), unless_empty(d.vat_number), unless_empty(d.ean_number));
                audit::record(tx, c.who, c.request_id,
                              {"billing.details", "user", std::to_string(user_id), nullptr,
                               json{{"country", d.country}, {"isCompany", d.is_company}}});
                tx.commit();
            };
            co_await s.db.run(save);
            co_return no_content();
        });
}

}  // namespace vpsfleet::api::customer
