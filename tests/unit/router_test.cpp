#include "common/router.hpp"

#include <gtest/gtest.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_future.hpp>
#include <nlohmann/json.hpp>

using namespace vpsfleet::http;
using verb = boost::beast::http::verb;

namespace {

struct routed {
    response res;
    std::string matched;
};

routed call(const router& r, verb method, const std::string& target) {
    boost::asio::io_context io;
    request req{method, target, 11};
    std::string matched;
    auto fut = boost::asio::co_spawn(io, r.handle(req, matched), boost::asio::use_future);
    io.run();
    return {fut.get(), matched};
}

route_handler echo_params() {
    return [](request&, const path_params& p) -> boost::asio::awaitable<response> {
        nlohmann::json body = nlohmann::json::object();
        for (const auto& [k, v] : p) body[k] = v;
        co_return json_response(status::ok, body.dump());
    };
}

}  // namespace

TEST(router, extracts_path_parameters_and_reports_the_pattern) {
    router r;
    r.add(verb::get, "/api/v1/projects/{project}/instances/{id}", echo_params());
    auto out = call(r, verb::get, "/api/v1/projects/p1/instances/ins_42?expand=ips");
    EXPECT_EQ(out.res.result(), status::ok);
    EXPECT_EQ(out.matched, "/api/v1/projects/{project}/instances/{id}");
    EXPECT_EQ(nlohmann::json::parse(out.res.body()),
              (nlohmann::json{{"project", "p1"}, {"id", "ins_42"}}));
}

TEST(router, answers_404_for_an_unknown_path) {
    router r;
    r.add(verb::get, "/healthz", echo_params());
    auto out = call(r, verb::get, "/nope");
    EXPECT_EQ(out.res.result(), status::not_found);
    EXPECT_EQ(out.matched, "unmatched");
    EXPECT_EQ(nlohmann::json::parse(out.res.body())["error"], "route not found: GET /nope");
}

TEST(router, answers_405_for_a_known_path_with_another_method) {
    router r;
    r.add(verb::get, "/healthz", echo_params());
    auto out = call(r, verb::delete_, "/healthz");
    EXPECT_EQ(out.res.result(), status::method_not_allowed);
    EXPECT_EQ(nlohmann::json::parse(out.res.body())["error"],
              "method not allowed: DELETE /healthz");
}

TEST(router, prefers_the_route_whose_method_matches) {
    router r;
    r.add(verb::get, "/things/{id}", echo_params());
    r.add(verb::post, "/things/{name}", echo_params());
    auto out = call(r, verb::post, "/things/x");
    EXPECT_EQ(out.matched, "/things/{name}");
}

TEST(router, uses_the_error_shape_it_was_given) {
    router r([](status s, const std::string& m) {
        return json_response(s, nlohmann::json{{"code", "route_not_found"}, {"message", m}}.dump());
    });
    auto out = call(r, verb::get, "/x");
    EXPECT_EQ(nlohmann::json::parse(out.res.body())["code"], "route_not_found");
}
