// The money side of LNVPS /vms: PUT /vms/{id}/extend (free days), GET and POST /vms/{id}/refund
// (pro-rata value of the paid time left, returned as credits by a billing.refund job, or to the
// card the credits were bought with by a billing.card_refund job) and /vms/{vm_id}/payments
// (AdminVmPaymentInfo: the periods the VM was paid for).
#include "coordinator/api/admin/business_routes.hpp"
#include "coordinator/api/admin/fields.hpp"
#include "coordinator/api/admin/read_routes.hpp"
#include "coordinator/api/admin/role_routes.hpp"
#include "coordinator/api/admin/vm_lookup.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/billing/billing_error.hpp"
#include "coordinator/billing/card_refunds.hpp"
#include "coordinator/billing/prepaid.hpp"
#include "coordinator/instances/refund_job.hpp"
#include "coordinator/store/json_fields.hpp"
#include "coordinator/store/sql.hpp"

namespace vpsfleet::api::admin {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

// Refunds go back as credits or, through the payment provider, to the card (stripe); LNVPS's
// other rails are not connected here.
const std::initializer_list<std::string_view> k_refund_methods = {"credits", "stripe", "lightning",
                                                                  "revolut", "paypal"};

void require_supported(const std::string& method, const services& s, const char* field) {
    if (method == "stripe" && (s.payments == nullptr || !s.billing.stripe)) {
        throw bad_request(
            "refunds to stripe need the payment provider, and billing.stripe is not configured "
            "on this coordinator; use credits",
            {{"field", field}});
    }
    if (method != "credits" && method != "stripe") {
        throw bad_request("refunds to " + method + " are not supported here; use credits or stripe",
                          {{"field", field}});
    }
}

// A card refund its owner's card payments cannot cover is refused before anything is written.
void require_card_cover(pqxx::work& tx, std::int64_t vm_id, billing::time_point from) {
    try {
        const auto q = billing::quote_card_refund(tx, vm_id, from);
        if (!q.covered()) throw conflict("refund_not_covered", billing::not_covered_message(q));
    } catch (const billing::billing_error& e) {
        throw conflict(e.code, e.what());
    }
}

billing::time_point unix_time(std::optional<std::int64_t> seconds) {
    return seconds ? billing::time_point(std::chrono::seconds(*seconds))
                   : std::chrono::system_clock::now();
}

const std::string k_payment_select = "SELECT uid, instance_id, " + store::iso8601("created_at") +
                                     ", " + store::iso8601("expires_at") +
                                     ", amount, currency, method, external_id, status = 'paid', " +
                                     "time_value FROM payments ";

json payment_json(const pqxx::row& r) {
    return {{"id", r[0].as<std::string>()},
            {"vm_id", r[1].as<std::int64_t>()},
            {"created", r[2].as<std::string>()},
            {"expires", r[3].as<std::string>()},
            {"amount", r[4].as<std::int64_t>()},
            {"currency", r[5].as<std::string>()},
            {"payment_method", r[6].as<std::string>()},
            {"external_id", text_or_null(r[7])},
            {"is_paid", r[8].as<bool>()},
            // Payments are in the currency they were charged in: no conversion.
            {"rate", 1},
            {"time_value", r[9].as<std::int64_t>()}};
}

}  // namespace

void add_vm_billing_routes(endpoints& api, services& s) {
    api.add(
        verb::put, "/vms/{id}/extend", access::op("virtual_machines::update"),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const auto id = id_param(p, "id");
            const json body = json_body(req);
            const auto days = int_in(body, "days", 1, 365);
            if (!days) throw bad_request("days is required (1-365)", {{"field", "days"}});
            const auto reason = bounded_string(body, "reason", 0, 500);
            auto extend = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const auto vm = lock_vm(tx, id);
                if (vm.status == "deleted" || vm.status == "deleting") {
                    throw conflict("invalid_state", "the VM is " + vm.status);
                }
                const json before = read_vm(tx, id);
                as_actor(tx, c, reason);
                const bool was_expired =
                    tx.exec_params1("SELECT expired_at IS NOT NULL FROM instances WHERE id = $1",
                                    id)[0]
                        .as<bool>();
                tx.exec_params(
                    "UPDATE instances SET expires_at = greatest(coalesce(expires_at, now()), "
                    "now()) + $2 * interval '1 day', expired_at = NULL, "
                    "expiry_notified_at = NULL WHERE id = $1",
                    id, *days);
                json started = nullptr;
                if (was_expired && vm.status == "stopped") {
                    started =
                        enqueued_or_busy(instances::request_power(tx, caller(c), vm.ref, "start"))
                            .uid;
                }
                json after = read_vm(tx, id);
                audit::record(
                    tx, c.who, c.request_id,
                    {"vm.extend", "vm", std::to_string(id), json{{"expires", before["expires"]}},
                     json{{"expires", after["expires"]},
                          {"days", *days},
                          {"reason", reason ? json(*reason) : json(nullptr)},
                          {"start_job_id", started}}});
                tx.commit();
                return after;
            };
            const json vm = co_await s.db.run(extend);
            co_return json_reply(admin_data(vm));
        });

    api.add(
        verb::get, "/vms/{vm_id}/refund", access::op("virtual_machines::view"),
        [&s](http::request& req, const path_params& p, call&) -> asio::awaitable<http::response> {
            const auto id = id_param(p, "vm_id");
            const auto method = query_param(req, "method");
            if (!method || std::find(k_refund_methods.begin(), k_refund_methods.end(), *method) ==
                               k_refund_methods.end()) {
                throw bad_request(
                    "method must be one of credits, stripe, lightning, revolut, paypal",
                    {{"field", "method"}});
            }
            require_supported(*method, s, "method");
            const auto from = unix_time(query_id(req, "from_date"));
            const bool to_card = *method == "stripe";
            auto quote = [id, from, to_card](pqxx::connection& conn) {
                pqxx::work tx(conn);
                require_vm(tx, id);
                if (to_card) require_card_cover(tx, id, from);
                const auto q = billing::quote_refund(tx, id, from);
                return json{{"amount", q.amount},
                            {"currency", q.currency.empty() ? json(nullptr) : json(q.currency)},
                            {"rate", 1}};
            };
            const json out = co_await s.db.run(quote);
            co_return json_reply(admin_data(out));
        });

    api.add(
        verb::post, "/vms/{vm_id}/refund", access::op("virtual_machines::delete"),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const auto id = id_param(p, "vm_id");
            const json body = json_body(req);
            const auto method = one_of(body, "payment_method", k_refund_methods);
            if (!method) {
                throw bad_request("payment_method is required", {{"field", "payment_method"}});
            }
            if (*method == "lightning" && !bounded_string(body, "lightning_invoice", 1, 4096)) {
                throw bad_request("lightning_invoice is required for lightning refunds",
                                  {{"field", "lightning_invoice"}});
            }
            require_supported(*method, s, "payment_method");
            const auto from_seconds = int_in(body, "refund_from_date", 1, 253402300799);
            const auto reason = bounded_string(body, "reason", 0, 500);
            const auto from = std::chrono::duration_cast<std::chrono::seconds>(
                                  unix_time(from_seconds).time_since_epoch())
                                  .count();
            auto dispatch = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const auto vm = lock_vm(tx, id);
                if (vm.status == "deleted") throw conflict("invalid_state", "the VM is deleted");
                const bool to_card = *method == "stripe";
                if (to_card)
                    require_card_cover(tx, id, billing::time_point(std::chrono::seconds(from)));
                const auto job = enqueued_or_busy(instances::enqueue_exclusive(
                    tx, caller(c), vm.ref,
                    to_card ? instances::k_card_refund_kind : instances::k_refund_kind,
                    {{"instance_id", id}, {"from", from}, {"reason", reason.value_or("")}}));
                audit::record(tx, c.who, c.request_id,
                              {"vm.refund", "vm", std::to_string(id), nullptr,
                               json{{"job_id", job.uid},
                                    {"payment_method", *method},
                                    {"refund_from_date", from},
                                    {"reason", reason ? json(*reason) : json(nullptr)}}});
                tx.commit();
                return job.uid;
            };
            const std::string job = co_await s.db.run(dispatch);
            co_return json_reply(admin_data({{"job_dispatched", true}, {"job_id", job}}));
        });

    api.add(
        verb::get, "/vms/{vm_id}/payments", access::op("payments::view"),
        [&s](http::request& req, const path_params& p, call&) -> asio::awaitable<http::response> {
            const auto vm_id = id_param(p, "vm_id");
            const auto page = page_params(req);
            auto list = [&page, vm_id](pqxx::connection& conn) {
                pqxx::work tx(conn);
                require_vm(tx, vm_id);
                json items = json::array();
                for (const auto& r : tx.exec_params(
                         k_payment_select + "WHERE instance_id = $1 ORDER BY id DESC LIMIT $2 "
                                            "OFFSET $3",
                         vm_id, page.limit, page.offset)) {
                    items.push_back(payment_json(r));
                }
                const auto total =
                    tx.exec_params1("SELECT count(*) FROM payments WHERE instance_id = $1",
                                    vm_id)[0]
                        .as<std::int64_t>();
                return admin_page(std::move(items), total, page.limit, page.offset);
            };
            const json out = co_await s.db.run(list);
            co_return json_reply(out);
        });

    api.add(verb::get, "/vms/{vm_id}/payments/{payment_id}", access::op("payments::view"),
            [&s](http::request&, const path_params& p, call&) -> asio::awaitable<http::response> {
                const auto vm_id = id_param(p, "vm_id");
                const std::string payment_id = p.at("payment_id");
                auto read = [vm_id, payment_id](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    const auto rows =
                        tx.exec_params(k_payment_select + "WHERE instance_id = $1 AND uid = $2",
                                       vm_id, payment_id);
                    if (rows.empty()) throw not_found("payment_not_found", "Payment not found");
                    return payment_json(rows[0]);
                };
                const json out = co_await s.db.run(read);
                co_return json_reply(admin_data(out));
            });
}

}  // namespace vpsfleet::api::admin
