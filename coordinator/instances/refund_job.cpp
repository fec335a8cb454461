#include "coordinator/instances/refund_job.hpp"

#include "coordinator/billing/billing_error.hpp"
#include "coordinator/billing/prepaid.hpp"

namespace vpsfleet::instances {

namespace {

using json = nlohmann::json;

json refund(jobs::step_context& ctx) {
    const auto& args = ctx.args();
    const auto from =
        billing::time_point(std::chrono::seconds(args.at("from").get<std::int64_t>()));
    const auto quote =
        billing::quote_refund(ctx.tx(), args.at("instance_id").get<std::int64_t>(), from);
    try {
        const auto entry =
            billing::refund_to_credits(ctx.tx(), args.at("instance_id").get<std::int64_t>(), from,
                                       args.value("reason", std::string()));
        return {{"amount", quote.amount},
                {"currency", quote.currency.empty() ? json(nullptr) : json(quote.currency)},
                {"credit_entry", entry ? json(*entry) : json(nullptr)}};
    } catch (const billing::billing_error& e) {
        throw jobs::step_failed(e.code, e.what());
    }
}

}  // namespace

void add_refund_job_handler(jobs::job_runner& runner) {
    runner.add_handler(k_refund_kind, {{{"refund", refund, {}}}});
}

}  // namespace vpsfleet::instances
