#include "coordinator/api/customer/auth_routes.hpp"

#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/auth/mfa.hpp"
#include "coordinator/store/sql.hpp"

namespace vpsfleet::api::customer {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

json user_profile(pqxx::work& tx, std::int64_t user_id) {
    const auto rows = tx.exec_params(
        "SELECT uid, email, fullname, country, language, email_verified, mfa_enabled, is_admin, " +
            store::iso8601("created_at") + " FROM users WHERE id = $1",
        user_id);
    if (rows.empty()) throw not_found("user_not_found", "User not found");
    const auto r = rows[0];
    return {{"uid", r[0].as<std::string>()},        {"email", r[1].as<std::string>()},
            {"fullname", r[2].as<std::string>("")}, {"country", r[3].as<std::string>("")},
            {"language", r[4].as<std::string>("")}, {"emailVerified", r[5].as<bool>()},
            {"mfaEnabled", r[6].as<bool>()},        {"role", r[7].as<bool>() ? "admin" : "user"},
            {"createdAt", r[8].as<std::string>()}};
}

std::string six_digit_code(const json& body) {
    // The document types the code loosely; accept a string or a number of six digits.
    const auto it = body.find("code");
    if (it == body.end() || it->is_null()) throw bad_request("Enter the 6-digit code");
    if (it->is_number_unsigned()) {
        std::string code = std::to_string(it->get<std::uint64_t>());
        if (code.size() < 6) code.insert(0, 6 - code.size(), '0');
        return code;
    }
    if (!it->is_string()) throw bad_request("Enter the 6-digit code");
    return it->get<std::string>();
}

}  // namespace

void add_account_routes(endpoints& api, services& s) {
    api.add(verb::get, "/me", access::signed_in(),
            [&s](http::request&, const path_params&, call& c) -> asio::awaitable<http::response> {
                const std::int64_t user_id = c.who.user_id;
                auto read = [user_id](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    return user_profile(tx, user_id);
                };
                const json profile = co_await s.db.run(read);
                co_return json_reply(profile);
            });

    api.add(
        verb::patch, "/account/profile", access::account_holder(),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const json body = json_body(req);
            const auto fullname = optional_string(body, "fullname");
            const auto language = optional_string(body, "language");
            if (fullname && (fullname->empty() || fullname->size() > 128)) {
                throw bad_request("fullname must be 1-128 characters", {{"field", "fullname"}});
            }
            if (language && *language != "da" && *language != "en") {
                throw bad_request("language must be 'da' or 'en'", {{"field", "language"}});
            }
            auto update = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const json before = user_profile(tx, c.who.user_id);
                tx.exec_params(
                    "UPDATE users SET fullname = COALESCE($2, fullname), "
                    "language = COALESCE($3, language), updated_at = now() WHERE id = $1",
                    c.who.user_id, fullname, language);
                json after = user_profile(tx, c.who.user_id);
                audit::record(tx, c.who, c.request_id,
                              {"user.update_profile", "user", c.who.user_uid, before, after});
                tx.commit();
                return after;
            };
            const json profile = co_await s.db.run(update);
            co_return json_reply(profile);
        });

    api.add(verb::post, "/account/mfa/enable", access::account_holder(),
            [&s](http::request&, const path_params&, call& c) -> asio::awaitable<http::response> {
                auto begin = [&](pqxx::connection& conn) {
                    return auth::begin_mfa(conn, s.keys.box(conn), c.who.user_id, s.cfg.mfa_issuer);
                };
                const auto enrolment = co_await s.db.run(begin);
                co_return json_reply(
                    {{"secret", enrolment.secret}, {"otpauthUrl", enrolment.otpauth_url}});
            });

    api.add(
        verb::post, "/account/mfa/confirm", access::account_holder(),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const std::string code = six_digit_code(json_body(req));
            auto confirm = [&](pqxx::connection& conn) {
                const auth::secret_box& box = s.keys.box(conn);
                pqxx::work tx(conn);
                auto codes = auth::confirm_mfa(tx, box, c.who.user_id, code);
                audit::record(tx, c.who, c.request_id,
                              {"user.mfa_enable", "user", c.who.user_uid, nullptr, nullptr});
                tx.commit();
                return codes;
            };
            // The recovery codes exist only in this answer; they are stored hashed.
            const std::vector<std::string> codes = co_await s.db.run(confirm);
            co_return json_reply({{"recoveryCodes", codes}});
        });

    api.add(
        verb::post, "/account/mfa/disable", access::account_holder(),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const std::string code = six_digit_code(json_body(req));
            auto disable = [&](pqxx::connection& conn) {
                const auth::secret_box& box = s.keys.box(conn);
                pqxx::work tx(conn);
                auth::disable_mfa(tx, box, c.who.user_id, code);
                audit::record(tx, c.who, c.request_id,
                              {"user.mfa_disable", "user", c.who.user_uid, nullptr, nullptr});
                tx.commit();
            };
            co_await s.db.run(disable);
            co_return no_content();
        });
}

}  // namespace vpsfleet::api::customer
