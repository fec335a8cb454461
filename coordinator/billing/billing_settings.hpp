#pragma once
// The billing section of the coordinator's configuration as the billing module's own types.
#include "coordinator/billing/invoice_pdf.hpp"
#include "coordinator/billing/tax.hpp"
#include "coordinator/config.hpp"

namespace vpsfleet::billing {

inline tax_rates taxes_of(const coordinator::billing_config& cfg) {
    tax_rates rates;
    rates.default_bp = cfg.tax_default_bp;
    for (const auto& [country, bp] : cfg.tax_by_country) rates.by_country[country] = bp;
    return rates;
}

inline seller_info seller_of(const coordinator::billing_config& cfg) {
    seller_info seller;
    seller.name = cfg.seller_name;
    seller.address_lines = cfg.seller_address;
    seller.vat_id = cfg.seller_vat_id;
    seller.email = cfg.seller_email;
    return seller;
}

// The seller printed on the invoice: the company copied onto it at issue, else the configured one.
inline seller_info seller_for(const invoice& inv, const coordinator::billing_config& cfg) {
    if (!inv.seller) return seller_of(cfg);
    seller_info seller;
    seller.name = inv.seller->name;
    seller.address_lines = inv.seller->address_lines;
    seller.vat_id = inv.seller->tax_id.value_or("");
    seller.email = inv.seller->email.value_or("");
    seller.phone = inv.seller->phone.value_or("");
    return seller;
}

}  // namespace vpsfleet::billing
