#pragma once
// Route tables of the two APIs with each route's access rule checked before its handler runs:
// open, any signed-in caller, a project API key's permission bit (customer), or an operator
// permission (admin, where API keys are never accepted).
#include "common/router.hpp"
#include "coordinator/api/call.hpp"
#include "coordinator/store/database.hpp"

#include <cstdint>
#include <functional>
#include <string>

namespace vpsfleet::api {

using handler = std::function<boost::asio::awaitable<http::response>(
    http::request&, const http::path_params&, call&)>;

struct access {
    bool open = false;
    std::uint64_t key_permission = 0;  // customer: bit an API key must hold (0: none needed)
    std::string operator_permission;   // admin: "resource::action"; empty: any operator
    // customer: the account's own sign-in only. A project API key acts inside its project; the
    // account's money, credentials and other projects are not its to touch.
    bool account_holder_only = false;
    static access anyone() { return {true, 0, {}}; }
    static access signed_in() { return {}; }
    static access account_holder() { return {false, 0, {}, true}; }
    static access key(std::uint64_t bits) { return {false, bits, {}}; }
    static access op(std::string permission) { return {false, 0, std::move(permission)}; }
};

class endpoints {
  public:
    endpoints(flavor api, std::string base, store::database& db);

    void add(boost::beast::http::verb method, const std::string& sub_path, access rule, handler h);
    boost::asio::awaitable<http::response> handle(http::request& req, std::string& matched,
                                                  call& c) const;

  private:
    boost::asio::awaitable<void> check(const access& rule, const http::path_params& params,
                                       call& c) const;

    flavor api_;
    std::string base_;
    store::database& db_;
    http::basic_router<call> router_;
};

}  // namespace vpsfleet::api
