#pragma once
// Reading custom pricing models and custom templates (migration 0028) as LNVPS shapes
// (AdminCustomPricingInfo, AdminCustomTemplateInfo), shared by their admin routes.
#include "coordinator/api/body.hpp"
#include "coordinator/billing/custom_pricing.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include <cstdint>
#include <optional>

namespace vpsfleet::api::admin {

// The largest memory or disk size a model or template takes: 1 PiB.
inline constexpr std::int64_t k_max_size_bytes = 1LL << 50;
inline constexpr std::int64_t k_max_cost = 1'000'000'000'000;

// AdminCustomPricingInfo, or 404.
nlohmann::json read_pricing(pqxx::work& tx, std::int64_t id);
// A page of models, newest last, optionally of one region and/or enabled state.
nlohmann::json list_pricing(pqxx::work& tx, std::optional<std::int64_t> region_id,
                            std::optional<bool> enabled, const page_request& page);
// The arithmetic's view of an AdminCustomPricingInfo.
billing::custom_model model_of(const nlohmann::json& pricing);

// AdminCustomTemplateInfo with its price (one IPv4, one IPv6), or 404.
nlohmann::json read_template(pqxx::work& tx, std::int64_t id);
nlohmann::json list_templates(pqxx::work& tx, std::int64_t pricing_id, const page_request& page);
billing::custom_config config_of(const nlohmann::json& template_info);

// {cpu_cost, memory_cost, disk_cost, ip4_cost, ip6_cost, total_monthly_cost}; null when the
// configuration has no price under the model.
nlohmann::json price_json(const billing::custom_model& model, const billing::custom_config& config);

}  // namespace vpsfleet::api::admin
