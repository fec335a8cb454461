// /vm_os_images in LNVPS shapes (AdminVmOsImageInfo) on the customer catalog's os_images rows.
#include "common/secrets.hpp"
#include "coordinator/api/admin/business_routes.hpp"
#include "coordinator/api/admin/fields.hpp"
#include "coordinator/api/admin/read_routes.hpp"
#include "coordinator/api/admin/role_routes.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/store/sql.hpp"

#include <algorithm>
#include <map>
#include <regex>

namespace vpsfleet::api::admin {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

const std::string k_image_select =
    "SELECT i.id, i.family, i.flavour, i.version, i.active, " + store::iso8601("i.release_date") +
    ", i.source_url, i.default_user, "
    "(SELECT count(*) FROM instances v WHERE v.image_id = i.id AND v.deleted_at IS NULL) "
    "FROM os_images i WHERE i.deleted_at IS NULL ";

json image_json(const pqxx::row& r) {
    return {{"id", r[0].as<std::int64_t>()},
            {"distribution", r[1].as<std::string>()},
            {"flavour", r[2].as<std::string>()},
            {"version", r[3].as<std::string>()},
            {"enabled", r[4].as<bool>()},
            {"release_date", r[5].as<std::string>()},
            {"url", text_or_null(r[6])},
            {"default_username", r[7].as<std::string>()},
            {"active_vm_count", r[8].as<std::int64_t>()}};
}

json read_image(pqxx::work& tx, std::int64_t id) {
    return read_one(tx, k_image_select + "AND i.id = $1", id, "image_not_found",
                    "OS image not found", image_json);
}

struct distribution_info {
    const char* title;
    const char* default_user;  // of the distribution's official cloud images
};

const std::map<std::string, distribution_info, std::less<>> k_distributions = {
    {"ubuntu", {"Ubuntu", "ubuntu"}},
    {"debian", {"Debian", "debian"}},
    {"centos", {"CentOS", "centos"}},
    {"fedora", {"Fedora", "fedora"}},
    {"freebsd", {"FreeBSD", "freebsd"}},
    {"opensuse", {"openSUSE", "opensuse"}},
    {"archlinux", {"Arch Linux", "arch"}},
    {"redhatenterprise", {"Red Hat Enterprise Linux", "cloud-user"}}};

std::optional<std::string> distribution_field(const json& body) {
    return one_of(body, "distribution",
                  {"ubuntu", "debian", "centos", "fedora", "freebsd", "opensuse", "archlinux",
                   "redhatenterprise"});
}

// The customer catalog sorts versions by their numeric parts ("24.04" after "9"), so the digits
// and dots in a version must read as dot-separated numbers.
std::optional<std::string> version_field(const json& body) {
    auto version = bounded_string(body, "version", 1, 32);
    if (!version) return version;
    static const std::regex k_chars("^[A-Za-z0-9._-]+$");
    std::string numeric;
    std::ranges::copy_if(*version, std::back_inserter(numeric),
                         [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
    static const std::regex k_numbers(R"(^([0-9]{1,9}(\.[0-9]{1,9})*)?$)");
    if (!std::regex_match(*version, k_chars) || !std::regex_match(numeric, k_numbers)) {
        throw bad_request("version must be like 22.04, 12 or 9-stream", {{"field", "version"}});
    }
    return version;
}

std::optional<std::string> url_field(const json& body) {
    auto url = bounded_string(body, "url", 1, 2048);
    static const std::regex k_url(R"(^https?://[^\s/?#]+/[^\s?#]*[^\s/?#](\?[^\s#]*)?(#\S*)?$)");
    if (url && !std::regex_match(*url, k_url)) {
        throw bad_request("url must be an http(s) URL of an image file", {{"field", "url"}});
    }
    return url;
}

std::optional<std::string> username_field(const json& body) {
    auto user = bounded_string(body, "default_username", 1, 32);
    static const std::regex k_user("^[a-z_][a-z0-9_-]*$");
    if (user && !std::regex_match(*user, k_user)) {
        throw bad_request("default_username must be a Linux user name",
                          {{"field", "default_username"}});
    }
    return user;
}

std::optional<std::string> flavour_field(const json& body) {
    return bounded_string(body, "flavour", 1, 64);
}

std::string display_name(const std::string& distribution, const std::string& version,
                         const std::string& flavour) {
    const auto it = k_distributions.find(distribution);
    std::string out = it == k_distributions.end() ? distribution : it->second.title;
    out += " " + version + " " + flavour;
    if (!flavour.empty()) {
        auto& first = out[out.size() - flavour.size()];
        first = static_cast<char>(std::toupper(static_cast<unsigned char>(first)));
    }
    return out;
}

// The volume hosts keep the image in: the url's file name in the "images" pool.
std::string volume_of(const std::string& url) {
    std::string path = url.substr(0, url.find_first_of("?#"));
    std::string name = path.substr(path.rfind('/') + 1);
    std::ranges::replace_if(
        name,
        [](char c) {
            return !std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '-' && c != '_';
        },
        '_');
    return name;
}

}  // namespace

void add_os_image_routes(endpoints& api, services& s) {
    add_list_route(
        api, s, "/vm_os_images", "vm_os_image::view",
        "SELECT count(*) FROM os_images WHERE deleted_at IS NULL",
        [](pqxx::work& tx, const page_request& page) {
            json items = json::array();
            for (const auto& r : tx.exec_params(k_image_select + "ORDER BY i.id LIMIT $1 OFFSET $2",
                                                page.limit, page.offset)) {
                items.push_back(image_json(r));
            }
            return items;
        });
    add_get_route(api, s, "/vm_os_images/{id}", "vm_os_image::view", read_image);

    api.add(
        verb::post, "/vm_os_images", access::op("vm_os_image::create"),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const json body = json_body(req);
            const auto distribution = distribution_field(body);
            const auto flavour = flavour_field(body);
            const auto version = version_field(body);
            const auto release = iso8601_field(body, "release_date");
            const auto url = url_field(body);
            if (!distribution || !flavour || !version || !release || !url) {
                throw bad_request(
                    "distribution, flavour, version, release_date and url are required");
            }
            const bool enabled = optional_bool(body, "enabled").value_or(true);
            const std::string user =
                username_field(body).value_or(k_distributions.at(*distribution).default_user);
            const std::string uid = secrets::random_token("img_", 9);
            auto create = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const auto id =
                    tx.exec_params1(
                          "INSERT INTO os_images (uid, family, version, display_name, "
                          "default_user, active, source_pool, source_volume, source_url, "
                          "flavour, release_date) VALUES ($1, $2, $3, $4, $5, $6, 'images', $7, "
                          "$8, $9, $10::timestamptz) RETURNING id",
                          uid, *distribution, *version,
                          display_name(*distribution, *version, *flavour), user, enabled,
                          volume_of(*url), *url, *flavour, *release)[0]
                        .as<std::int64_t>();
                const json image = read_image(tx, id);
                audit::record(tx, c.who, c.request_id,
                              {"os_image.create", "os_image", std::to_string(id), nullptr, image});
                tx.commit();
                return image;
            };
            const json image = co_await s.db.run(create);
            co_return json_reply(admin_data(image), http::status::created);
        });

    // The volume name stays as it was: hosts already hold the image under it.
    api.add(
        verb::patch, "/vm_os_images/{id}", access::op("vm_os_image::update"),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const auto id = id_param(p, "id");
            const json body = json_body(req);
            const auto distribution = distribution_field(body);
            const auto flavour = flavour_field(body);
            const auto version = version_field(body);
            const auto release = iso8601_field(body, "release_date");
            const auto url = url_field(body);
            const auto enabled = optional_bool(body, "enabled");
            const auto user = username_field(body);
            auto update = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                tx.exec_params("SELECT 1 FROM os_images WHERE id = $1 FOR UPDATE", id);
                const json before = read_image(tx, id);
                const bool renamed = distribution || flavour || version;
                const std::string name =
                    display_name(distribution.value_or(before["distribution"].get<std::string>()),
                                 version.value_or(before["version"].get<std::string>()),
                                 flavour.value_or(before["flavour"].get<std::string>()));
                tx.exec_params(
                    "UPDATE os_images SET family = COALESCE($2, family), "
                    "flavour = COALESCE($3, flavour), version = COALESCE($4, version), "
                    "release_date = COALESCE($5::timestamptz, release_date), "
                    "source_url = COALESCE($6, source_url), active = COALESCE($7, active), "
                    "default_user = COALESCE($8, default_user), "
                    "display_name = CASE WHEN $9 THEN $10 ELSE display_name END WHERE id = $1",
                    id, distribution, flavour, version, release, url, enabled, user, renamed, name);
                const json after = read_image(tx, id);
                audit::record(tx, c.who, c.request_id,
                              {"os_image.update", "os_image", std::to_string(id), before, after});
                tx.commit();
                return after;
            };
            const json image = co_await s.db.run(update);
            co_return json_reply(admin_data(image));
        });

    // Refused while live VMs use the image; one only deleted VMs name stays as a tombstone.
    api.add(verb::delete_, "/vm_os_images/{id}", access::op("vm_os_image::delete"),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const auto id = id_param(p, "id");
                auto remove = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    tx.exec_params("SELECT 1 FROM os_images WHERE id = $1 FOR UPDATE", id);
                    const json before = read_image(tx, id);
                    const auto in_use = before["active_vm_count"].get<std::int64_t>();
                    if (in_use > 0) {
                        throw conflict("image_in_use", "the OS image is used by " +
                                                           std::to_string(in_use) +
                                                           " VM(s); disable it instead");
                    }
                    if (tx.exec_params("SELECT 1 FROM instances WHERE image_id = $1 LIMIT 1", id)
                            .empty()) {
                        tx.exec_params("DELETE FROM os_images WHERE id = $1", id);
                    } else {
                        tx.exec_params(
                            "UPDATE os_images SET deleted_at = now(), active = false "
                            "WHERE id = $1",
                            id);
                    }
                    audit::record(
                        tx, c.who, c.request_id,
                        {"os_image.delete", "os_image", std::to_string(id), before, nullptr});
                    tx.commit();
                };
                co_await s.db.run(remove);
                co_return json_reply(admin_data(nullptr));
            });
}

}  // namespace vpsfleet::api::admin
