#include "coordinator/api/customer/order_source.hpp"

#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

namespace vpsfleet::api::customer {

using json = nlohmann::json;

order_source parse_order_source(const json& body) {
    const auto it = body.find("source");
    if (it == body.end() || !it->is_object()) {
        throw bad_request("source must be an object with one of image, template or app",
                          {{"field", "source"}});
    }
    const json& source = *it;
    constexpr std::array<std::pair<const char*, order_source::kind>, 3> k_kinds{{
        {"image", order_source::kind::image},
        {"template", order_source::kind::template_},
        {"app", order_source::kind::app},
    }};
    const auto known = [&](const auto& item) {
        return item.key() == "image" || item.key() == "template" || item.key() == "app";
    };
    const auto items = source.items();
    if (source.size() != 1 || !std::all_of(items.begin(), items.end(), known)) {
        throw bad_request("source takes exactly one of image, template or app",
                          {{"field", "source"}});
    }
    for (const auto& [key, from] : k_kinds) {
        if (!source.contains(key)) continue;
        const json& ref = source[key];
        if (!ref.is_string() || ref.get<std::string>().empty()) {
            throw bad_request(std::string("source.") + key + " must be a non-empty string",
                              {{"field", "source"}});
        }
        return {from, ref.get<std::string>()};
    }
    throw std::logic_error("unreachable: source was checked to hold one known key");
}

namespace {

resolved_source from_image(pqxx::work& tx, const std::string& uid) {
    const auto r =
        tx.exec_params("SELECT id, min_disk_gb FROM os_images WHERE uid = $1 AND active", uid);
    if (r.empty()) throw not_found("image_not_found", "Image not found");
    resolved_source out;
    out.image_id = r[0][0].as<std::int64_t>();
    out.what = "the image";
    out.min_disk_gb = r[0][1].as<int>();
    return out;
}

// The newest active version of the app whose image is still offered.
resolved_source from_app(pqxx::work& tx, const std::string& slug) {
    const auto r = tx.exec_params(
        "SELECT a.id, a.image_id, a.name, a.min_vcpu, a.min_memory_mb, "
        "greatest(a.min_disk_gb, img.min_disk_gb) FROM apps a "
        "JOIN os_images img ON img.id = a.image_id AND img.active "
        "WHERE a.slug = $1 AND a.active ORDER BY a.id DESC LIMIT 1",
        slug);
    if (r.empty()) throw not_found("app_not_found", "No active app exists with this slug");
    resolved_source out;
    out.app_id = r[0][0].as<std::int64_t>();
    out.image_id = r[0][1].as<std::int64_t>();
    out.what = r[0][2].as<std::string>();
    out.min_vcpu = r[0][3].as<int>();
    out.min_memory_mb = r[0][4].as<int>();
    out.min_disk_gb = r[0][5].as<int>();
    return out;
}

resolved_source from_template(pqxx::work& tx, std::int64_t project_id, const std::string& uid) {
    const auto r = tx.exec_params(
        "SELECT t.id, t.status, t.backup_snapshot IS NOT NULL, img.id, img.active, t.name, "
        "greatest(t.min_disk_gb, coalesce(img.min_disk_gb, 1)) FROM templates t "
        "LEFT JOIN os_images img ON img.id = t.image_id "
        "WHERE t.project_id = $1 AND t.uid = $2 AND t.status NOT IN ('deleting', 'deleted')",
        project_id, uid);
    if (r.empty()) throw not_found("template_not_found", "Template not found");
    const auto& t = r[0];
    const std::string name = t[5].as<std::string>();
    if (t[1].as<std::string>() != "ready") {
        throw bad_request("template " + name + " is not ready (" + t[1].as<std::string>() + ")",
                          {{"field", "source"}});
    }
    if (t[2].as<bool>() || t[3].is_null()) {
        throw bad_request("template " + name +
                              " holds a disk saved from a backup; ordering from such templates "
                              "is not supported yet, only from templates of an OS image",
                          {{"field", "source"}});
    }
    if (!t[4].as<bool>()) {
        throw bad_request("the image of template " + name + " is no longer offered",
                          {{"field", "source"}});
    }
    resolved_source out;
    out.template_id = t[0].as<std::int64_t>();
    out.image_id = t[3].as<std::int64_t>();
    out.what = "template " + name;
    out.min_disk_gb = t[6].as<int>();
    return out;
}

}  // namespace

resolved_source resolve_order_source(pqxx::work& tx, std::int64_t project_id,
                                     const order_source& source) {
    switch (source.from) {
        case order_source::kind::image:
            return from_image(tx, source.ref);
        case order_source::kind::app:
            return from_app(tx, source.ref);
        case order_source::kind::template_:
            return from_template(tx, project_id, source.ref);
    }
    throw std::logic_error("unknown order source");
}

void check_plan_fits(pqxx::work& tx, std::int64_t plan_id, const resolved_source& source) {
    const auto plan =
        tx.exec_params1("SELECT vcpu, memory_mb, disk_gb FROM plans WHERE id = $1", plan_id);
    const auto short_of = [&](const std::string& what, int needed) {
        return bad_request("the plan's " + what + " is less than " + source.what + " needs (" +
                               std::to_string(needed) + ")",
                           {{"field", "plan"}});
    };
    if (plan[0].as<int>() < source.min_vcpu) throw short_of("vCPU count", source.min_vcpu);
    if (plan[1].as<int>() < source.min_memory_mb)
        throw short_of("memory (MB)", source.min_memory_mb);
    if (plan[2].as<int>() < source.min_disk_gb) throw short_of("disk (GB)", source.min_disk_gb);
}

}  // namespace vpsfleet::api::customer
