#include "coordinator/api/customer/ip_range_routes.hpp"

#include "coordinator/api/customer/project_routes.hpp"
#include "coordinator/auth/api_keys.hpp"
#include "coordinator/store/sql.hpp"

namespace vpsfleet::api::customer {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

void add_ip_range_routes(endpoints& api, services& s) {
    api.add(
        verb::get, "/projects/{project}/ip-ranges", access::key(auth::permission::read_colocation),
        [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const std::string project = p.at("project");
            auto list = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const auto project_id = resolve_project(tx, c, project);
                json out = json::array();
                for (const auto& r :
                     tx.exec_params("SELECT uid, cidr::text, family(cidr), description, source, " +
                                        store::iso8601("created_at") +
                                        " FROM project_ip_ranges WHERE project_id = $1 "
                                        "ORDER BY family(cidr), id",
                                    project_id)) {
                    out.push_back({{"uid", r[0].as<std::string>()},
                                   {"cidr", r[1].as<std::string>()},
                                   {"family", r[2].as<int>()},
                                   {"description", r[3].as<std::string>()},
                                   {"source", r[4].as<std::string>()},
                                   {"createdAt", r[5].as<std::string>()}});
                }
                return out;
            };
            const json out = co_await s.db.run(list);
            co_return json_reply(out);
        });
}

}  // namespace vpsfleet::api::customer
