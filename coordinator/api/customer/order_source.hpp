#pragma once
// What an instance order's `source` ({image}, {template} or {app}) builds from: the OS image, the
// app or template it came from, and the least a plan must offer for it. Unknown sources are the
// documented 404s (image_not_found, template_not_found, app_not_found); a plan too small for the
// source is a 400 naming `plan`.
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <cstdint>
#include <optional>
#include <string>

namespace vpsfleet::api::customer {

struct order_source {
    enum class kind { image, template_, app };
    kind from = kind::image;
    std::string ref;  // the image uid, template uid or app slug
};

// Exactly one of image, template or app, each a non-empty string; 400 otherwise.
order_source parse_order_source(const nlohmann::json& body);

struct resolved_source {
    std::int64_t image_id = 0;
    std::optional<std::int64_t> app_id;
    std::optional<std::int64_t> template_id;
    std::string what;  // "the image", "Coolify", ... for error messages
    int min_vcpu = 1;
    int min_memory_mb = 1;
    int min_disk_gb = 1;
};

// Looks the source up (templates within the project). A template saved from a backup has no
// image to build from yet: 400.
resolved_source resolve_order_source(pqxx::work& tx, std::int64_t project_id,
                                     const order_source& source);

// 400 unless the active plan `plan_id` offers what the source needs.
void check_plan_fits(pqxx::work& tx, std::int64_t plan_id, const resolved_source& source);

}  // namespace vpsfleet::api::customer
