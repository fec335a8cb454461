#include "coordinator/api/admin/app_routes.hpp"

#include "common/secrets.hpp"
#include "coordinator/api/admin/fields.hpp"
#include "coordinator/api/admin/read_routes.hpp"
#include "coordinator/api/admin/role_routes.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/store/sql.hpp"

#include <regex>

namespace vpsfleet::api::admin {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

const std::string k_select =
    "SELECT id, uid, slug, version, name, description, logo, category, image_id, user_data, "
    "min_vcpu, min_memory_mb, min_disk_gb, active, " +
    store::iso8601("created_at") + " FROM apps ";

json app_json(const pqxx::row& r) {
    return {{"id", r[0].as<std::int64_t>()},
            {"uid", r[1].as<std::string>()},
            {"slug", r[2].as<std::string>()},
            {"version", r[3].as<std::string>()},
            {"name", r[4].as<std::string>()},
            {"description", r[5].as<std::string>()},
            {"logo", text_or_null(r[6])},
            {"category", r[7].as<std::string>()},
            {"image_id", r[8].as<std::int64_t>()},
            {"user_data", r[9].as<std::string>()},
            {"min_cpu", r[10].as<std::int64_t>()},
            {"min_memory_mb", r[11].as<std::int64_t>()},
            {"min_disk_gb", r[12].as<std::int64_t>()},
            {"active", r[13].as<bool>()},
            {"created", r[14].as<std::string>()}};
}

json read_app(pqxx::work& tx, std::int64_t id) {
    return read_one(tx, k_select + "WHERE id = $1", id, "app_not_found", "app not found", app_json);
}

std::string required(std::optional<std::string> value, const std::string& field) {
    if (!value) throw bad_request(field + " is required", {{"field", field}});
    return *value;
}

// What may change on a version without changing what it installs.
struct app_labels {
    std::optional<std::string> name;
    std::optional<std::string> description;
    std::optional<std::optional<std::string>> logo;  // null clears it
    std::optional<std::string> category;
    std::optional<bool> active;
};

app_labels parse_labels(const json& body) {
    app_labels l;
    l.name = bounded_string(body, "name", 1, 64);
    l.description = bounded_string(body, "description", 0, 500);
    if (body.contains("logo")) {
        l.logo = body["logo"].is_null() ? std::optional<std::string>()
                                        : bounded_string(body, "logo", 1, 500);
        if (*l.logo && !l.logo->value().starts_with("https://")) {
            throw bad_request("logo must be an https:// URL", {{"field", "logo"}});
        }
    }
    l.category = bounded_string(body, "category", 1, 32);
    l.active = optional_bool(body, "active");
    return l;
}

void write_labels(pqxx::work& tx, std::int64_t id, const app_labels& l) {
    tx.exec_params(
        "UPDATE apps SET name = COALESCE($2, name), description = COALESCE($3, description), "
        "logo = CASE WHEN $4 THEN $5 ELSE logo END, category = COALESCE($6, category), "
        "active = COALESCE($7, active) WHERE id = $1",
        id, l.name, l.description, l.logo.has_value(), l.logo ? *l.logo : std::nullopt, l.category,
        l.active);
}

}  // namespace

void add_app_routes(endpoints& api, services& s) {
    add_list_route(api, s, "/apps", "vm_template::view", "SELECT count(*) FROM apps",
                   k_select + "ORDER BY slug, id DESC", app_json);
    add_get_route(api, s, "/apps/{id}", "vm_template::view", read_app);

    api.add(
        verb::post, "/apps", access::op("vm_template::create"),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const json body = json_body(req);
            const std::string slug = required(bounded_string(body, "slug", 1, 64), "slug");
            if (!std::regex_match(slug, std::regex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$"))) {
                throw bad_request("slug must be lower-case letters, digits and inner '-'",
                                  {{"field", "slug"}});
            }
            const std::string version = required(bounded_string(body, "version", 1, 32), "version");
            const std::string user_data =
                required(bounded_string(body, "user_data", 1, 65536), "user_data");
            const auto image_id = int_in(body, "image_id", 1, INT64_MAX);
            if (!image_id) throw bad_request("image_id is required", {{"field", "image_id"}});
            const auto min_cpu = int_in(body, "min_cpu", 1, 256).value_or(1);
            const auto min_memory_mb = int_in(body, "min_memory_mb", 1, 1 << 22).value_or(512);
            const auto min_disk_gb = int_in(body, "min_disk_gb", 1, 1 << 16).value_or(10);
            const app_labels labels = parse_labels(body);
            required(labels.name, "name");
            required(labels.category, "category");
            auto create = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                if (tx.exec_params("SELECT 1 FROM os_images WHERE id = $1", *image_id).empty()) {
                    throw bad_request("image_id names no OS image", {{"field", "image_id"}});
                }
                if (!tx.exec_params("SELECT 1 FROM apps WHERE slug = $1 AND version = $2", slug,
                                    version)
                         .empty()) {
                    throw conflict("app_version_exists",
                                   slug + " " + version + " exists; a change is a new version");
                }
                const auto id = tx.exec_params1(
                                      "INSERT INTO apps (uid, slug, version, name, category, "
                                      "image_id, user_data, min_vcpu, min_memory_mb, min_disk_gb) "
                                      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) "
                                      "RETURNING id",
                                      secrets::random_token("app_", 9), slug, version, *labels.name,
                                      *labels.category, *image_id, user_data, min_cpu,
                                      min_memory_mb, min_disk_gb)[0]
                                    .as<std::int64_t>();
                write_labels(tx, id, labels);
                const json app = read_app(tx, id);
                audit::record(tx, c.who, c.request_id,
                              {"app.create", "app", std::to_string(id), nullptr, app});
                tx.commit();
                return app;
            };
            const json app = co_await s.db.run(create);
            co_return json_reply(admin_data(app), http::status::created);
        });

    api.add(
        verb::patch, "/apps/{id}", access::op("vm_template::update"),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const auto id = id_param(p, "id");
            const json body = json_body(req);
            for (const char* fixed : {"slug", "version", "image_id", "user_data", "min_cpu",
                                      "min_memory_mb", "min_disk_gb"}) {
                if (body.contains(fixed)) {
                    throw bad_request(
                        std::string(fixed) + " is fixed once created: make a new version",
                        {{"field", fixed}});
                }
            }
            const app_labels labels = parse_labels(body);
            auto update = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                tx.exec_params("SELECT 1 FROM apps WHERE id = $1 FOR UPDATE", id);
                const json before = read_app(tx, id);
                write_labels(tx, id, labels);
                const json after = read_app(tx, id);
                audit::record(tx, c.who, c.request_id,
                              {"app.update", "app", std::to_string(id), before, after});
                tx.commit();
                return after;
            };
            const json app = co_await s.db.run(update);
            co_return json_reply(admin_data(app));
        });
}

}  // namespace vpsfleet::api::admin
