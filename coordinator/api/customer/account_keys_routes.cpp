#include "coordinator/api/customer/account_keys_routes.hpp"

#include "common/secrets.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/auth/ssh_public_key.hpp"
#include "coordinator/store/sql.hpp"

namespace vpsfleet::api::customer {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

api_error invalid_key() {
    return bad_request("invalid OpenSSH public key", {{"field", "public_key"}});
}

auth::ssh_public_key parse_public_key(const std::string& text) {
    auto key = auth::parse_ssh_public_key(text);
    if (!key) throw invalid_key();
    return *key;
}

std::string key_name(const json& body) {
    const std::string name = required_string(body, "name");
    if (name.empty() || name.size() > 64) {
        throw bad_request("name must be 1-64 characters", {{"field", "name"}});
    }
    return name;
}

}  // namespace

void add_account_key_routes(endpoints& api, services& s) {
    api.add(verb::get, "/account/sshkeys", access::account_holder(),
            [&s](http::request&, const path_params&, call& c) -> asio::awaitable<http::response> {
                const std::int64_t user_id = c.who.user_id;
                auto list = [user_id](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    json keys = json::array();
                    for (const auto& r : tx.exec_params(
                             "SELECT uid, name, public_key, fingerprint, " +
                                 store::iso8601("created_at") +
                                 " FROM account_ssh_keys WHERE user_id = $1 ORDER BY id DESC",
                             user_id)) {
                        keys.push_back({{"uid", r[0].as<std::string>()},
                                        {"name", r[1].as<std::string>()},
                                        {"public_key", r[2].as<std::string>()},
                                        {"fingerprint", r[3].as<std::string>()},
                                        {"created_at", r[4].as<std::string>()}});
                    }
                    return keys;
                };
                const json keys = co_await s.db.run(list);
                co_return json_reply({{"ssh_keys", keys}});
            });

    api.add(
        verb::post, "/account/sshkeys", access::account_holder(),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const json body = json_body(req);
            const std::string name = key_name(body);
            const auth::ssh_public_key key = parse_public_key(required_string(body, "public_key"));
            auto add = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const std::string uid = secrets::random_token("key_", 9);
                const auto rows = tx.exec_params(
                    "INSERT INTO account_ssh_keys (uid, user_id, name, public_key, fingerprint) "
                    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, fingerprint) DO NOTHING "
                    "RETURNING id",
                    uid, c.who.user_id, name, key.public_key, key.fingerprint);
                if (rows.empty()) throw conflict("key_exists", "This SSH key is already added");
                const json added = {{"uid", uid}, {"name", name}, {"fingerprint", key.fingerprint}};
                audit::record(tx, c.who, c.request_id,
                              {"ssh_key.create", "ssh_key", uid, nullptr, added});
                tx.commit();
                return added;
            };
            const json added = co_await s.db.run(add);
            co_return json_reply({{"ssh_key", added}}, http::status::created);
        });

    api.add(verb::delete_, "/account/sshkeys/{key}", access::account_holder(),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const std::string uid = p.at("key");
                auto remove = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    const auto rows = tx.exec_params(
                        "DELETE FROM account_ssh_keys WHERE uid = $1 AND user_id = $2 "
                        "RETURNING name, fingerprint",
                        uid, c.who.user_id);
                    if (rows.empty()) throw not_found("key_not_found", "SSH key not found");
                    audit::record(tx, c.who, c.request_id,
                                  {"ssh_key.delete", "ssh_key", uid,
                                   json{{"uid", uid},
                                        {"name", rows[0][0].as<std::string>()},
                                        {"fingerprint", rows[0][1].as<std::string>()}},
                                   nullptr});
                    tx.commit();
                };
                co_await s.db.run(remove);
                co_return no_content();
            });
}

}  // namespace vpsfleet::api::customer
