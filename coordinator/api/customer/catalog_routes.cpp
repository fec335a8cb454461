#include "coordinator/api/customer/catalog_routes.hpp"

namespace vpsfleet::api::customer {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

void add_catalog_routes(endpoints& api, services& s) {
    api.add(verb::get, "/plans", access::signed_in(),
            [&s](http::request&, const path_params&, call&) -> asio::awaitable<http::response> {
                auto list = [](pqxx::connection& conn) {
                    pqxx::read_transaction tx(conn);
                    json out = json::array();
                    for (const auto& r :
                         tx.exec("SELECT uid, code, name, family, vcpu, memory_mb, disk_gb, "
                                 "network_mbps, price_monthly_ore, price_hourly_ore FROM plans "
                                 "WHERE active ORDER BY sort, id")) {
                        out.push_back({{"uid", r[0].as<std::string>()},
                                       {"code", r[1].as<std::string>()},
                                       {"name", r[2].as<std::string>()},
                                       {"family", r[3].as<std::string>()},
                                       {"vcpu", r[4].as<std::int64_t>()},
                                       {"memoryMb", r[5].as<std::int64_t>()},
                                       {"diskGb", r[6].as<std::int64_t>()},
                                       {"networkMbps", r[7].as<std::int64_t>()},
                                       {"priceMonthlyOre", r[8].as<std::int64_t>()},
                                       {"priceHourlyOre", r[9].as<std::int64_t>()}});
                    }
                    return out;
                };
                const json plans = co_await s.db.run(list);
                co_return json_reply({{"plans", plans}});
            });

    api.add(verb::get, "/images", access::signed_in(),
            [&s](http::request&, const path_params&, call&) -> asio::awaitable<http::response> {
                auto list = [](pqxx::connection& conn) {
                    pqxx::read_transaction tx(conn);
                    json out = json::array();
                    // Versions compare as numbers where they are ("24.04" after "9").
                    for (const auto& r : tx.exec(
                             "SELECT uid, family, version, display_name, protocol, default_user, "
                             "min_disk_gb, has_guest_agent FROM os_images WHERE active "
                             "ORDER BY family, string_to_array(regexp_replace(version, "
                             "'[^0-9.]', '', 'g'), '.')::int[] DESC NULLS LAST, version DESC")) {
                        out.push_back({{"uid", r[0].as<std::string>()},
                                       {"family", r[1].as<std::string>()},
                                       {"version", r[2].as<std::string>()},
                                       {"displayName", r[3].as<std::string>()},
                                       {"protocol", r[4].as<std::string>()},
                                       {"defaultUser", r[5].as<std::string>()},
                                       {"minDiskGb", r[6].as<std::int64_t>()},
                                       {"hasGuestAgent", r[7].as<bool>()}});
                    }
                    return out;
                };
                const json images = co_await s.db.run(list);
                co_return json_reply({{"images", images}});
            });
}

}  // namespace vpsfleet::api::customer
