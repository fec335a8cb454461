#include "coordinator/api/customer/catalog_routes.hpp"

#include "coordinator/api/api_error.hpp"
#include "coordinator/store/json_fields.hpp"

namespace vpsfleet::api::customer {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

// Active apps whose image is still offered, newest version (highest id) first per slug. The
// install script (user_data) stays inside: it goes to the instance's cloud-init, not to clients.
const std::string k_offered_apps =
    "SELECT DISTINCT ON (a.slug) a.uid, a.slug, a.version, a.name, a.description, a.logo, "
    "a.category, a.min_vcpu, a.min_memory_mb, greatest(a.min_disk_gb, img.min_disk_gb), "
    "img.family AS image_family, img.version AS image_version "
    "FROM apps a JOIN os_images img ON img.id = a.image_id AND img.active WHERE a.active ";

json app_json(const pqxx::row& r) {
    return {
        {"uid", r[0].as<std::string>()},
        {"slug", r[1].as<std::string>()},
        {"version", r[2].as<std::string>()},
        {"name", r[3].as<std::string>()},
        {"description", r[4].as<std::string>()},
        {"logo", store::text_or_null(r[5])},
        {"category", r[6].as<std::string>()},
        {"requirements",
         {{"minVcpu", r[7].as<std::int64_t>()},
          {"minMemoryMb", r[8].as<std::int64_t>()},
          {"minDiskGb", r[9].as<std::int64_t>()},
          {"image", {{"family", r[10].as<std::string>()}, {"version", r[11].as<std::string>()}}}}}};
}

}  // namespace

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

    api.add(verb::get, "/apps", access::signed_in(),
            [&s](http::request&, const path_params&, call&) -> asio::awaitable<http::response> {
                auto list = [](pqxx::connection& conn) {
                    pqxx::read_transaction tx(conn);
                    json out = json::array();
                    for (const auto& r : tx.exec("SELECT * FROM (" + k_offered_apps +
                                                 "ORDER BY a.slug, a.id DESC) newest "
                                                 "ORDER BY name, slug")) {
                        out.push_back(app_json(r));
                    }
                    return out;
                };
                const json apps = co_await s.db.run(list);
                co_return json_reply({{"apps", apps}});
            });

    api.add(verb::get, "/apps/{slug}", access::signed_in(),
            [&s](http::request&, const path_params& p, call&) -> asio::awaitable<http::response> {
                const std::string slug = p.at("slug");
                auto read = [&](pqxx::connection& conn) {
                    pqxx::read_transaction tx(conn);
                    const auto rows = tx.exec_params(
                        k_offered_apps + "AND a.slug = $1 ORDER BY a.slug, a.id DESC", slug);
                    if (rows.empty()) {
                        throw not_found("app_not_found", "No active app exists with this slug");
                    }
                    return app_json(rows[0]);
                };
                const json app = co_await s.db.run(read);
                co_return json_reply({{"app", app}});
            });
}

}  // namespace vpsfleet::api::customer
