#include "coordinator/api/admin/read_routes.hpp"

#include "coordinator/api/admin/role_routes.hpp"
#include "coordinator/api/api_error.hpp"

namespace vpsfleet::api::admin {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;

json read_one(pqxx::work& tx, const std::string& sql, std::int64_t id, const char* code,
              const char* message, json (*to_json)(const pqxx::row&)) {
    const auto rows = tx.exec_params(sql, id);
    if (rows.empty()) throw not_found(code, message);
    return to_json(rows[0]);
}

void add_list_route(endpoints& api, services& s, const std::string& path,
                    const std::string& permission, std::string count_sql, page_reader read) {
    api.add(verb::get, path, access::op(permission),
            [&s, count_sql = std::move(count_sql), read = std::move(read)](
                http::request& req, const http::path_params&,
                call&) -> asio::awaitable<http::response> {
                const auto page = page_params(req);
                auto list = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    json items = read(tx, page);
                    const auto total = tx.exec1(count_sql)[0].as<std::int64_t>();
                    return admin_page(std::move(items), total, page.limit, page.offset);
                };
                const json out = co_await s.db.run(list);
                co_return json_reply(out);
            });
}

void add_list_route(endpoints& api, services& s, const std::string& path,
                    const std::string& permission, std::string count_sql, std::string select_sql,
                    json (*to_json)(const pqxx::row&)) {
    add_list_route(api, s, path, permission, std::move(count_sql),
                   [sql = std::move(select_sql) + " LIMIT $1 OFFSET $2", to_json](
                       pqxx::work& tx, const page_request& page) {
                       json items = json::array();
                       for (const auto& r : tx.exec_params(sql, page.limit, page.offset))
                           items.push_back(to_json(r));
                       return items;
                   });
}

void add_get_route(endpoints& api, services& s, const std::string& path,
                   const std::string& permission, object_reader read) {
    api.add(verb::get, path, access::op(permission),
            [&s, read = std::move(read)](http::request&, const http::path_params& p,
                                         call&) -> asio::awaitable<http::response> {
                const auto id = id_param(p, "id");
                auto get = [&read, id](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    return read(tx, id);
                };
                const json object = co_await s.db.run(get);
                co_return json_reply(admin_data(object));
            });
}

}  // namespace vpsfleet::api::admin
