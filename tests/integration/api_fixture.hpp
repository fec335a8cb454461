#pragma once
// A coordinator process on a fresh database, called over HTTP the way API clients call it:
// JSON in and out, bearer tokens, arbitrary headers.
#include "tests/integration/daemon_fixture.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>

namespace vpsfleet::testing {

struct api_reply {
    int status = 0;
    nlohmann::json body;  // null when the body is empty or not JSON
    std::map<std::string, std::string> headers;
    std::string raw;
    std::string header(const std::string& lower_name) const;
};

class api_client {
  public:
    explicit api_client(std::uint16_t port) : port_(port) {}

    api_reply call(const std::string& method, const std::string& target,
                   const nlohmann::json& body = nullptr, http_headers headers = {}) const;
    api_reply get(const std::string& target, const std::string& token = {}) const;
    api_reply post(const std::string& target, const nlohmann::json& body,
                   const std::string& token = {}) const;
    static http_headers bearer(const std::string& token);
    std::uint16_t port() const { return port_; }

  private:
    std::uint16_t port_;
};

struct signed_up {
    std::string email;
    std::string password;
    std::string access_token;
    std::string refresh_token;
};

// Signs up a new customer account through the API and confirms its email with the link mailed
// at sign-up, as the customer would (ordering needs a verified email); returns its tokens.
signed_up sign_up(const api_client& api, const std::string& email,
                  const std::string& password = "correct horse battery");

// The token in the newest verification mail to `email` in the outbox; "" when there is none.
std::string verification_token(const std::string& database_url, const std::string& email);

// Grants a system role ("super_admin", "admin", "read_only") straight in the database.
void grant_role(const std::string& database_url, const std::string& email, const std::string& role);

// The uid of the first project the token's user sees (every new account has one).
std::string first_project(const api_client& api, const std::string& token);

// Polls the customer job view until the job has finished (succeeded, failed or cancelled), for
// up to 20 s; returns its last view.
nlohmann::json finished_job(const api_client& api, const std::string& project,
                            const std::string& job, const std::string& token);

// The body of a customer order for an instance from the seeded catalog.
nlohmann::json instance_order(const std::string& name, const std::string& plan = "bxs-1",
                              const std::string& image = "img_debian12");

// Plans beside the catalog's: bxs-2-4s, bxs-2-4 with bxs-1's 40 GB disk (test:/// cannot grow
// volumes), and tiny, with a smaller disk than any catalog plan.
void add_resize_plans(const std::string& database_url);

// A test suite's coordinator on a fresh database, started once for all its tests. A suite that
// needs more configuration calls start_suite(config_extra) from its own SetUpTestSuite.
class coordinator_suite : public ::testing::Test {
  protected:
    static void start_suite(const std::string& config_extra = {});
    static void SetUpTestSuite() { start_suite(); }
    static void TearDownTestSuite();

    api_client api() const { return api_client(coordinator_->port); }
    static std::string query(const std::string& sql);
    static void exec(const std::string& sql);

    static inline std::string* db_url_ = nullptr;
    static inline running_daemon* coordinator_ = nullptr;
};

// A coordinator on a fresh database with two operators signed in: `boss` (super_admin) and
// `viewer` (read_only).
struct admin_world {
    std::string db;
    running_daemon coordinator;
    api_client api;
    signed_up boss_account;
    std::string boss;
    std::string viewer;

    admin_world();
    // A call to the admin API (`path` below /api/admin/v1), as the boss unless given a token.
    api_reply call(const std::string& method, const std::string& path,
                   const nlohmann::json& body = nullptr, const std::string& token = {}) const;
    // The first column of the first row as text ("" for none or NULL).
    std::string query(const std::string& sql) const;
    std::int64_t user_id(const std::string& email) const;
};

}  // namespace vpsfleet::testing
