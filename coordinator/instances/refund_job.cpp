#include "coordinator/instances/refund_job.hpp"

#include "coordinator/billing/billing_error.hpp"
#include "coordinator/billing/card_refunds.hpp"
#include "coordinator/billing/money.hpp"
#include "coordinator/billing/prepaid.hpp"

namespace vpsfleet::instances {

namespace {

using json = nlohmann::json;

std::int64_t instance_of(const jobs::step_context& ctx) {
    return ctx.args().at("instance_id").get<std::int64_t>();
}

billing::time_point from_of(const jobs::step_context& ctx) {
    return billing::time_point(std::chrono::seconds(ctx.args().at("from").get<std::int64_t>()));
}

json refund(jobs::step_context& ctx) {
    const auto from = from_of(ctx);
    const auto quote = billing::quote_refund(ctx.tx(), instance_of(ctx), from);
    try {
        const auto entry = billing::refund_to_credits(ctx.tx(), instance_of(ctx), from,
                                                      ctx.args().value("reason", std::string()));
        return {{"amount", quote.amount},
                {"currency", quote.currency.empty() ? json(nullptr) : json(quote.currency)},
                {"credit_entry", entry ? json(*entry) : json(nullptr)}};
    } catch (const billing::billing_error& e) {
        throw jobs::step_failed(e.code, e.what());
    }
}

json plan_card_refund(jobs::step_context& ctx) {
    try {
        return billing::to_json(billing::plan_card_refund(ctx.tx(), instance_of(ctx), from_of(ctx),
                                                          ctx.job().uid,
                                                          ctx.args().value("reason", "")));
    } catch (const billing::billing_error& e) {
        throw jobs::step_failed(e.code, e.what());
    }
}

void unplan_card_refund(jobs::step_context& ctx) {
    billing::undo_card_refund_plan(ctx.tx(), ctx.job().uid, billing::plan_from_json(ctx.output()),
                                   instance_of(ctx));
}

json issue_card_refunds(jobs::step_context& ctx, billing::payment_provider* payments) {
    if (payments == nullptr) {
        throw jobs::step_failed("provider_not_configured",
                                "Card refunds need billing.stripe configured");
    }
    std::vector<billing::card_refund> todo;
    {
        pqxx::read_transaction tx(ctx.connection());
        todo = billing::unissued_card_refunds(tx, ctx.job().uid);
    }
    for (const auto& r : todo) {
        ctx.progress("Refunding " + billing::format_money(r.amount, r.currency) + " to " +
                     r.payment_intent);
        const billing::refund_answer answer = billing::request_card_refund(*payments, r);
        // Each answer is kept at once: a later refusal fails the job, and this refund stays made.
        pqxx::work tx(ctx.connection());
        if (answer.issued) {
            billing::record_refund_issued(tx, r.uid, *answer.issued);
            tx.commit();
            continue;
        }
        billing::record_refund_failed(tx, r.uid, answer.failed->what(),
                                      !answer.failed->retryable());
        tx.commit();
        const std::string what = "the provider did not refund " +
                                 billing::format_money(r.amount, r.currency) + " of " +
                                 r.payment_intent + ": " + answer.failed->what();
        if (answer.failed->retryable()) {
            throw jobs::retry_later(what, std::chrono::seconds(ctx.job().lease.attempt));
        }
        throw jobs::step_failed(answer.failed->code, what);
    }
    const json& plan = ctx.output_of(0);
    json refunds = json::array();
    for (const auto& r :
         ctx.tx().exec_params("SELECT r.uid, p.external_id, r.amount, r.external_id, r.status "
                              "FROM provider_refunds r JOIN payments p ON p.id = r.payment_id "
                              "WHERE r.job_uid = $1 ORDER BY r.id",
                              ctx.job().uid)) {
        refunds.push_back({{"id", r[0].as<std::string>()},
                           {"payment_intent", r[1].as<std::string>()},
                           {"amount", r[2].as<std::int64_t>()},
                           {"refund", r[3].as<std::string>()},
                           {"status", r[4].as<std::string>()}});
    }
    return {{"amount", plan.at("amount")}, {"currency", plan.at("currency")}, {"refunds", refunds}};
}

}  // namespace

void add_refund_job_handler(jobs::job_runner& runner, billing::payment_provider* payments) {
    runner.add_handler(k_refund_kind, {{{"refund", refund, {}}}});
    runner.add_handler(
        k_card_refund_kind,
        {{{"plan", plan_card_refund, unplan_card_refund},
          {"issue",
           [payments](jobs::step_context& ctx) { return issue_card_refunds(ctx, payments); },
           {}}}});
}

}  // namespace vpsfleet::instances
