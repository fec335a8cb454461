#include "coordinator/api/admin/promo_code_routes.hpp"

#include "coordinator/api/admin/fields.hpp"
#include "coordinator/api/admin/read_routes.hpp"
#include "coordinator/api/admin/role_routes.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/billing/promo_codes.hpp"
#include "coordinator/store/json_fields.hpp"
#include "coordinator/store/sql.hpp"

#include <regex>

namespace vpsfleet::api::admin {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

const std::string k_select =
    "SELECT id, code, credit_amount, currency, max_redemptions, "
    "redemptions, active, " +
    store::iso8601("expires_at") + ", description, " + store::iso8601("created_at") +
    " FROM promo_codes ";

json promo_json(const pqxx::row& r) {
    return {{"id", r[0].as<std::int64_t>()},
            {"code", r[1].as<std::string>()},
            {"amount", r[2].as<std::int64_t>()},
            {"currency", r[3].as<std::string>()},
            {"max_redemptions", store::int_or_null(r[4])},
            {"redemptions", r[5].as<std::int64_t>()},
            {"active", r[6].as<bool>()},
            {"expires", store::text_or_null(r[7])},
            {"description", r[8].as<std::string>()},
            {"created", r[9].as<std::string>()}};
}

json read_promo(pqxx::work& tx, std::int64_t id) {
    return read_one(tx, k_select + "WHERE id = $1", id, "promo_code_not_found",
                    "promo code not found", promo_json);
}

// What create and update may set; absent fields are left alone (null clears cap and expiry).
struct promo_fields {
    std::optional<std::optional<std::int64_t>> max_redemptions;
    std::optional<std::optional<std::string>> expires;
    std::optional<bool> active;
    std::optional<std::string> description;
};

promo_fields parse_fields(const json& body) {
    promo_fields f;
    if (body.contains("max_redemptions")) {
        f.max_redemptions = body["max_redemptions"].is_null()
                                ? std::optional<std::int64_t>()
                                : int_in(body, "max_redemptions", 1, 100'000'000);
    }
    if (body.contains("expires")) {
        f.expires = body["expires"].is_null() ? std::optional<std::string>()
                                              : iso8601_field(body, "expires");
    }
    f.active = optional_bool(body, "active");
    f.description = bounded_string(body, "description", 0, 200);
    return f;
}

void write_fields(pqxx::work& tx, std::int64_t id, const promo_fields& f) {
    if (f.max_redemptions) {
        const auto cap = *f.max_redemptions;
        const auto used =
            tx.exec_params1("SELECT redemptions FROM promo_codes WHERE id = $1", id)[0]
                .as<std::int64_t>();
        if (cap && *cap < used) {
            throw bad_request("max_redemptions cannot be below the " + std::to_string(used) +
                              " redemptions already made");
        }
        tx.exec_params("UPDATE promo_codes SET max_redemptions = $2 WHERE id = $1", id, cap);
    }
    if (f.expires) {
        tx.exec_params("UPDATE promo_codes SET expires_at = $2::timestamptz WHERE id = $1", id,
                       *f.expires);
    }
    if (f.active) tx.exec_params("UPDATE promo_codes SET active = $2 WHERE id = $1", id, *f.active);
    if (f.description) {
        tx.exec_params("UPDATE promo_codes SET description = $2 WHERE id = $1", id, *f.description);
    }
}

}  // namespace

void add_promo_code_routes(endpoints& api, services& s) {
    add_list_route(
        api, s, "/promo_codes", "payments::view", "SELECT count(*) FROM promo_codes",
        [](pqxx::work& tx, const page_request& page) {
            json items = json::array();
            for (const auto& r : tx.exec_params(k_select + "ORDER BY id DESC LIMIT $1 OFFSET $2",
                                                page.limit, page.offset)) {
                items.push_back(promo_json(r));
            }
            return items;
        });
    add_get_route(api, s, "/promo_codes/{id}", "payments::view", read_promo);

    api.add(
        verb::post, "/promo_codes", access::op("payments::update"),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const json body = json_body(req);
            const auto code = billing::normalize_promo_code(required_string(body, "code"));
            if (!code) throw bad_request("code must be 1-64 letters, digits, '-' or '_'");
            const auto amount = int_in(body, "amount", 1, 100'000'000'00);
            if (!amount) throw bad_request("amount is required: minor units, above 0");
            // The billing currency unless the code names another (for accounts kept in it).
            const auto chosen = optional_string(body, "currency").value_or(s.billing.currency);
            if (!std::regex_match(chosen, std::regex("^[A-Z]{3}$"))) {
                throw bad_request("currency must be an ISO 4217 code such as DKK");
            }
            const promo_fields fields = parse_fields(body);
            auto create = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                if (!tx.exec_params("SELECT 1 FROM promo_codes WHERE code = $1", *code).empty()) {
                    throw conflict("promo_code_exists", "promo code " + *code + " already exists");
                }
                const auto id = tx.exec_params1(
                                      "INSERT INTO promo_codes (code, credit_amount, currency) "
                                      "VALUES ($1, $2, $3) RETURNING id",
                                      *code, *amount, chosen)[0]
                                    .as<std::int64_t>();
                write_fields(tx, id, fields);
                const json promo = read_promo(tx, id);
                audit::record(
                    tx, c.who, c.request_id,
                    {"promo_code.create", "promo_code", std::to_string(id), nullptr, promo});
                tx.commit();
                return promo;
            };
            const json promo = co_await s.db.run(create);
            co_return json_reply(admin_data(promo), http::status::created);
        });

    api.add(
        verb::patch, "/promo_codes/{id}", access::op("payments::update"),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const auto id = id_param(p, "id");
            const promo_fields fields = parse_fields(json_body(req));
            auto update = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                tx.exec_params("SELECT 1 FROM promo_codes WHERE id = $1 FOR UPDATE", id);
                const json before = read_promo(tx, id);
                write_fields(tx, id, fields);
                const json after = read_promo(tx, id);
                audit::record(
                    tx, c.who, c.request_id,
                    {"promo_code.update", "promo_code", std::to_string(id), before, after});
                tx.commit();
                return after;
            };
            const json promo = co_await s.db.run(update);
            co_return json_reply(admin_data(promo));
        });
}

}  // namespace vpsfleet::api::admin
