#include "coordinator/api/customer/auth_routes.hpp"

#include "common/secrets.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/auth/accounts.hpp"
#include "coordinator/auth/email_verification.hpp"
#include "coordinator/auth/sessions.hpp"

namespace vpsfleet::api::customer {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

json tokens_json(const auth::token_pair& t) {
    return {{"access_token", t.access_token},
            {"refresh_token", t.refresh_token},
            {"token_type", "Bearer"},
            {"expires_in", t.expires_in}};
}

auth::session_settings session_settings(const services& s) {
    return {s.cfg.access_token_ttl, s.cfg.refresh_token_ttl};
}

auth::verification_settings verification_settings(const services& s) {
    return {s.cfg.email_verification_ttl, s.cfg.public_url};
}

// POST /auth/verify-email and /auth/verify-email/resend.
void add_email_verification_routes(endpoints& api, services& s) {
    // The token is the credential, as for a password reset: the link works without signing in.
    api.add(
        verb::post, "/auth/verify-email", access::anyone(),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const std::string token = required_string(json_body(req), "token");
            auto verify = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const auto user = auth::confirm_email(tx, token);
                auth::principal self;
                self.type = auth::principal::kind::user;
                self.user_id = user.id;
                audit::record(tx, self, c.request_id,
                              {"user.verify_email", "user", user.uid,
                               json{{"emailVerified", false}}, json{{"emailVerified", true}}});
                tx.commit();
            };
            co_await s.db.run(verify);
            co_return no_content();
        });

    api.add(verb::post, "/auth/verify-email/resend", access::account_holder(),
            [&s](http::request&, const path_params&, call& c) -> asio::awaitable<http::response> {
                const auto settings = verification_settings(s);
                auto resend = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    auth::resend_verification_mail(tx, settings, c.who.user_id);
                    audit::record(
                        tx, c.who, c.request_id,
                        {"user.verification_mail", "user", c.who.user_uid, nullptr, nullptr});
                    tx.commit();
                };
                co_await s.db.run(resend);
                co_return no_content();
            });
}

}  // namespace

void add_auth_routes(endpoints& api, services& s) {
    api.add(
        verb::post, "/auth/signup", access::anyone(),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const json body = json_body(req);
            auth::new_account account{required_string(body, "email"),
                                      required_string(body, "password"),
                                      required_string(body, "fullname")};
            account.country = optional_string(body, "country").value_or("DK");
            account.language = optional_string(body, "language").value_or("en");
            // Only checked: whether the account is a company is kept with its billing details.
            optional_bool(body, "isCompany");
            const auto settings = session_settings(s);
            const auto verification = verification_settings(s);
            auto create = [&](pqxx::connection& conn) {
                const auth::session_issuer issuer{s.keys.signer(conn), settings};
                pqxx::work tx(conn);
                const auto user = auth::create_account(tx, account);
                tx.exec_params(
                    "INSERT INTO projects (uid, name, owner_user_id) VALUES ($1, $2, $3)",
                    secrets::random_token("prj_", 9), "My Project", user.id);
                auth::principal self;
                self.type = auth::principal::kind::user;
                self.user_id = user.id;
                audit::record(
                    tx, self, c.request_id,
                    {"user.signup", "user", user.uid, nullptr, json{{"email", account.email}}});
                auth::send_verification_mail(tx, verification, user.id);
                auto tokens = issuer.open(tx, user.id, user.uid);
                tx.commit();
                return tokens;
            };
            const auto tokens = co_await s.db.run(create);
            co_return json_reply(tokens_json(tokens), http::status::created);
        });

    api.add(verb::post, "/auth/login", access::anyone(),
            [&s](http::request& req, const path_params&, call&) -> asio::awaitable<http::response> {
                const json body = json_body(req);
                const std::string email = required_string(body, "email");
                const std::string password = required_string(body, "password");
                if (password.empty()) throw bad_request("password is required");
                const auto code = optional_string(body, "code");
                const auto settings = session_settings(s);
                auto login = [&](pqxx::connection& conn) {
                    const auth::session_issuer issuer{s.keys.signer(conn), settings};
                    return auth::sign_in(conn, issuer, s.keys.box(conn), email, password, code);
                };
                const auto result = co_await s.db.run(login);
                if (result.mfa_required) co_return json_reply({{"mfa_required", true}});
                co_return json_reply(tokens_json(result.tokens));
            });

    api.add(verb::post, "/auth/refresh", access::anyone(),
            [&s](http::request& req, const path_params&, call&) -> asio::awaitable<http::response> {
                const std::string token = required_string(json_body(req), "refresh_token");
                if (token.empty()) throw bad_request("refresh_token is required");
                const auto settings = session_settings(s);
                auto rotate = [&](pqxx::connection& conn) {
                    const auth::session_issuer issuer{s.keys.signer(conn), settings};
                    return issuer.rotate(conn, token);
                };
                const auto tokens = co_await s.db.run(rotate);
                co_return json_reply(tokens_json(tokens));
            });

    api.add(verb::post, "/auth/logout", access::anyone(),
            [&s](http::request& req, const path_params&, call&) -> asio::awaitable<http::response> {
                const std::string token = required_string(json_body(req), "refresh_token");
                auto close = [&token](pqxx::connection& conn) { auth::close_session(conn, token); };
                co_await s.db.run(close);
                co_return no_content();
            });

    api.add(verb::post, "/auth/password/forgot", access::anyone(),
            [&s](http::request& req, const path_params&, call&) -> asio::awaitable<http::response> {
                const std::string email = required_string(json_body(req), "email");
                const auth::reset_settings settings{s.cfg.password_reset_ttl, s.cfg.public_url};
                auto request = [&](pqxx::connection& conn) {
                    auth::request_password_reset(conn, settings, email);
                };
                co_await s.db.run(request);
                co_return no_content();
            });

    api.add(verb::post, "/auth/password/reset", access::anyone(),
            [&s](http::request& req, const path_params&, call&) -> asio::awaitable<http::response> {
                const json body = json_body(req);
                const std::string token = required_string(body, "token");
                const std::string password = required_string(body, "password");
                auto reset = [&](pqxx::connection& conn) {
                    auth::reset_password(conn, token, password);
                };
                co_await s.db.run(reset);
                co_return no_content();
            });

    add_email_verification_routes(api, s);
}

}  // namespace vpsfleet::api::customer
