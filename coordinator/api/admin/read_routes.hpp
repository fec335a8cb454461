#pragma once
// The two read routes most admin resources have: a paginated list ({data,total,limit,offset})
// and one object by numeric id ({"data": ...}).
#include "coordinator/api/body.hpp"
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <functional>
#include <string>

namespace vpsfleet::api::admin {

// The page's items; `count_sql` gives the total.
using page_reader = std::function<nlohmann::json(pqxx::work&, const page_request&)>;
using object_reader = std::function<nlohmann::json(pqxx::work&, std::int64_t id)>;

void add_list_route(endpoints& api, services& s, const std::string& path,
                    const std::string& permission, std::string count_sql, page_reader read);
// The page of `select_sql` (ending in its ORDER BY) with LIMIT $1 OFFSET $2 added, each row as
// JSON through `to_json`.
void add_list_route(endpoints& api, services& s, const std::string& path,
                    const std::string& permission, std::string count_sql, std::string select_sql,
                    nlohmann::json (*to_json)(const pqxx::row&));
// The row `sql` finds with $1 = id, as JSON through `to_json`; 404 with `code` and `message`
// when there is none.
nlohmann::json read_one(pqxx::work& tx, const std::string& sql, std::int64_t id, const char* code,
                        const char* message, nlohmann::json (*to_json)(const pqxx::row&));

// `path` ends in "/{id}".
void add_get_route(endpoints& api, services& s, const std::string& path,
                   const std::string& permission, object_reader read);

}  // namespace vpsfleet::api::admin
