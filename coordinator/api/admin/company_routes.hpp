#pragma once
// Admin API (LNVPS "Company Management", AdminCompanyInfo): /companies (list, create) and
// /companies/{id} (get, patch, delete), company::view/create/update/delete. The legal entities
// regions belong to; a company with regions cannot be deleted (409). In a PATCH an empty string
// clears a field; name and base_currency (EUR USD GBP CAD CHF AUD JPY BTC) are always set.
// /reports/time-series and /reports/referral-usage/time-series (analytics::view): a company's
// VM payments and referred VMs over a range of days.
#include "coordinator/api/endpoints.hpp"
#include "coordinator/api/services.hpp"

#include <pqxx/pqxx>

#include <cstdint>
#include <optional>

namespace vpsfleet::api::admin {

void add_company_routes(endpoints& api, services& s);
void add_report_routes(endpoints& api, services& s);

// For the region routes: a company_id that names no company is a 400, not a broken foreign key.
void require_company(pqxx::work& tx, std::optional<std::int64_t> company_id);

}  // namespace vpsfleet::api::admin
