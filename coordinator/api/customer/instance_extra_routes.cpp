#include "coordinator/api/customer/instance_extra_routes.hpp"

#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/api/customer/instance_access.hpp"
#include "coordinator/api/customer/project_routes.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/auth/api_keys.hpp"
#include "coordinator/store/json_fields.hpp"
#include "coordinator/store/sql.hpp"

#include <sodium.h>

#include <charconv>
#include <cstdio>
#include <map>
#include <vector>

namespace vpsfleet::api::customer {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

constexpr std::int64_t k_default_events = 50;
constexpr std::int64_t k_max_events = 200;

std::optional<std::int64_t> positive_number(std::string_view text) {
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
    if (ec != std::errc() || end != text.data() + text.size() || n < 1) return std::nullopt;
    return n;
}

std::int64_t events_limit(const http::request& req) {
    const auto text = query_param(req, "limit");
    if (!text) return k_default_events;
    const auto n = positive_number(*text);
    if (!n) throw bad_request("limit must be a positive whole number", {{"field", "limit"}});
    return std::min(*n, k_max_events);
}

// The cursor is base64 of the id of the last event a page showed; the next page starts below it.
std::string encode_cursor(std::int64_t id) {
    const std::string text = std::to_string(id);
    std::string b64(sodium_base64_ENCODED_LEN(text.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(b64.data(), b64.size(), reinterpret_cast<const unsigned char*>(text.data()),
                      text.size(), sodium_base64_VARIANT_ORIGINAL);
    b64.resize(b64.find('\0'));
    return b64;
}

std::optional<std::int64_t> events_cursor(const http::request& req) {
    const auto cursor = query_param(req, "cursor");
    if (!cursor) return std::nullopt;
    std::vector<unsigned char> raw(cursor->size() + 1);
    std::size_t len = 0;
    if (cursor->empty() ||
        sodium_base642bin(raw.data(), raw.size(), cursor->data(), cursor->size(), nullptr, &len,
                          nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
        throw bad_request("cursor is not one this API gave out", {{"field", "cursor"}});
    }
    const auto id = positive_number(std::string_view(reinterpret_cast<char*>(raw.data()), len));
    if (!id) throw bad_request("cursor is not one this API gave out", {{"field", "cursor"}});
    return id;
}

std::string event_uid(std::int64_t id) {
    char out[32];
    std::snprintf(out, sizeof out, "evt_%012llx", static_cast<unsigned long long>(id));
    return out;
}

// The document's dotted event names ("create.requested") for the history's LNVPS action types.
// A configuration change is a resize when it changed the plan.
std::string suble_event_type(const std::string& action, const json& previous) {
    static const std::map<std::string, std::string> k_names = {
        {"created", "create.requested"},      {"started", "power.started"},
        {"stopped", "power.stopped"},         {"restarted", "power.restarted"},
        {"deleted", "delete.completed"},      {"expired", "billing.expired"},
        {"renewed", "billing.renewed"},       {"payment_received", "billing.payment_received"},
        {"reinstalled", "rebuild.requested"}, {"state_changed", "state.changed"}};
    if (action == "configuration_changed") {
        return previous.is_object() && previous.contains("plan_id") ? "resize.requested"
                                                                    : "config.changed";
    }
    const auto it = k_names.find(action);
    return it == k_names.end() ? action : it->second;
}

json jsonb_or_null(const pqxx::field& f) {
    return f.is_null() ? json(nullptr) : json::parse(f.c_str());
}

}  // namespace

void add_instance_extra_routes(endpoints& api, services& s) {
    api.add(verb::post, "/projects/{project}/instances/{instance}/password/acknowledge",
            access::key(auth::permission::read_vps),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const std::string project = p.at("project");
                const std::string uid = p.at("instance");
                auto acknowledge = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    const auto id = find_instance(tx, c, project, uid, false).id;
                    tx.exec_params("UPDATE instances SET root_password = NULL WHERE id = $1", id);
                    audit::record(
                        tx, c.who, c.request_id,
                        {"instance.password_acknowledge", "instance", uid, nullptr, nullptr});
                    tx.commit();
                };
                co_await s.db.run(acknowledge);
                co_return no_content();
            });

    api.add(
        verb::get, "/projects/{project}/instances/{instance}/events",
        access::key(auth::permission::read_vps),
        [&s](http::request& req, const path_params& p, call& c) -> asio::awaitable<http::response> {
            const std::int64_t limit = events_limit(req);
            const std::optional<std::int64_t> before = events_cursor(req);
            const std::string project = p.at("project");
            const std::string uid = p.at("instance");
            auto list = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const auto id = find_instance(tx, c, project, uid, false).id;
                const auto rows = tx.exec_params(
                    "SELECT v.id, v.action_type, v.description, v.previous_state::text, "
                    "v.new_state::text, j.uid, " +
                        store::iso8601("v.at") +
                        ", u.email FROM vm_history v "
                        "LEFT JOIN users u ON u.id = v.initiated_by_user "
                        "LEFT JOIN jobs j ON j.id = v.job_id "
                        "WHERE v.vm_id = $1 AND ($2::bigint IS NULL OR v.id < $2) "
                        "ORDER BY v.id DESC LIMIT $3",
                    id, before, limit);
                json events = json::array();
                for (const auto& r : rows) {
                    const json previous = jsonb_or_null(r[3]);
                    events.push_back({{"uid", event_uid(r[0].as<std::int64_t>())},
                                      {"type", suble_event_type(r[1].as<std::string>(), previous)},
                                      {"message", store::text_or_null(r[2])},
                                      {"meta",
                                       {{"previous_state", previous},
                                        {"new_state", jsonb_or_null(r[4])},
                                        {"job_uid", store::text_or_null(r[5])}}},
                                      {"created_at", r[6].as<std::string>()},
                                      {"user_email", store::text_or_null(r[7])}});
                }
                // A full page may have more behind it; a short one is the end.
                json next = nullptr;
                if (static_cast<std::int64_t>(rows.size()) == limit) {
                    next = encode_cursor(rows.back()[0].as<std::int64_t>());
                }
                return json{{"events", events}, {"next_cursor", next}};
            };
            const json out = co_await s.db.run(list);
            co_return json_reply(out);
        });
}

}  // namespace vpsfleet::api::customer
