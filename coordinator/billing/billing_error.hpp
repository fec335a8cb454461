#pragma once
// The one error billing throws for expected failures: a stable code (the API error code) and a
// message a person can act on. Each billing module lists its codes here. Invoices:
//   empty_invoice, mixed_currencies, negative_amount, invalid_quantity, invalid_description,
//   invalid_currency, invalid_tax_rate, invalid_tax_country, invalid_period, amount_too_large
//                                                                    a draft that cannot be issued
//   user_not_found, invoice_not_found                                nothing to act on
//   idempotency_key_reused     the key already names another account's invoice
//   invalid_status             the invoice's status does not allow the change (paid -> void, ...)
#include <stdexcept>
#include <string>

namespace vpsfleet::billing {

struct billing_error : std::runtime_error {
    billing_error(std::string code, const std::string& message)
        : std::runtime_error(message), code(std::move(code)) {}
    std::string code;
};

}  // namespace vpsfleet::billing
