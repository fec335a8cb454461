#include "tests/integration/api_fixture.hpp"

#include <gtest/gtest.h>
#include <pqxx/pqxx>

namespace vpsfleet::testing {

using json = nlohmann::json;

std::string api_reply::header(const std::string& lower_name) const {
    const auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
}

api_reply api_client::call(const std::string& method, const std::string& target, const json& body,
                           http_headers headers) const {
    const auto reply = http_request("127.0.0.1", port_, method, target,
                                    body.is_null() ? std::string() : body.dump(),
                                    std::chrono::seconds(10), headers);
    api_reply out{reply.status, nullptr, reply.headers, reply.body};
    if (!reply.body.empty()) out.body = json::parse(reply.body, nullptr, false);
    if (out.body.is_discarded()) out.body = nullptr;
    return out;
}

api_reply api_client::get(const std::string& target, const std::string& token) const {
    return call("GET", target, nullptr, token.empty() ? http_headers{} : bearer(token));
}

api_reply api_client::post(const std::string& target, const json& body,
                           const std::string& token) const {
    return call("POST", target, body, token.empty() ? http_headers{} : bearer(token));
}

http_headers api_client::bearer(const std::string& token) {
    return {{"Authorization", "Bearer " + token}};
}

signed_up sign_up(const api_client& api, const std::string& email, const std::string& password) {
    const auto r = api.post("/api/v1/auth/signup",
                            {{"email", email}, {"password", password}, {"fullname", "Test User"}});
    EXPECT_EQ(r.status, 201) << r.raw;
    return {email, password, r.body.value("access_token", ""), r.body.value("refresh_token", "")};
}

void grant_role(const std::string& database_url, const std::string& email,
                const std::string& role) {
    pqxx::connection conn(database_url);
    pqxx::work tx(conn);
    tx.exec_params(
        "INSERT INTO user_roles (user_id, role_id) SELECT u.id, r.id FROM users u, roles r "
        "WHERE lower(u.email) = lower($1) AND r.name = $2",
        email, role);
    tx.commit();
}

}  // namespace vpsfleet::testing
