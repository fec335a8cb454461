#include "coordinator/api/admin/prometheus_routes.hpp"

#include "common/config_reader.hpp"
#include "coordinator/api/admin/fields.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"

#include <optional>

namespace vpsfleet::api::admin {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

// Where agents serve /metrics unless they are configured otherwise (agent.example.yaml).
constexpr std::int64_t k_default_agent_port = 9101;

// "host:port", with an IPv6 address in brackets.
std::string host_port(const std::string& host, std::int64_t port) {
    const bool v6 = host.find(':') != std::string::npos && !host.starts_with('[');
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

// Where Prometheus reaches a host's agent: the address its agent said it serves /metrics on, with
// the host's address (or name) in place of a wildcard; the host at `fallback_port` for agents
// that have not said.
std::string agent_target(const std::string& address, const std::optional<std::string>& listen,
                         std::int64_t fallback_port) {
    const auto at = listen ? config::parse_endpoint(*listen) : std::nullopt;
    if (!at) return host_port(address, fallback_port);
    const bool wildcard = at->host == "0.0.0.0" || at->host == "::" || at->host == "*";
    return host_port(wildcard ? address : at->host, at->port);
}

// The coordinator as the caller reached it (Prometheus scrapes /metrics on the same listener);
// without a Host header, the public URL's authority.
std::string coordinator_address(const http::request& req, const std::string& public_url) {
    const auto host = req[boost::beast::http::field::host];
    if (!host.empty()) return std::string(host);
    auto rest = public_url.substr(
        public_url.find("://") == std::string::npos ? 0 : public_url.find("://") + 3);
    return rest.substr(0, rest.find('/'));
}

}  // namespace

// Labels starting with __meta_ are for relabelling only (each job keeps its tier by
// __meta_vpsfleet_tier); `host` and `region` stay on every agent series.
void add_prometheus_routes(endpoints& api, services& s) {
    api.add(
        verb::get, "/prometheus/targets", access::op("hosts::view"),
        [&s](http::request& req, const path_params&, call&) -> asio::awaitable<http::response> {
            std::int64_t agent_port = k_default_agent_port;
            if (const auto port = query_id(req, "agent_port")) {
                if (*port < 1 || *port > 65535)
                    throw bad_request("agent_port must be between 1 and 65535");
                agent_port = *port;
            }
            json groups = json::array();
            groups.push_back({{"targets", {coordinator_address(req, s.cfg.public_url)}},
                              {"labels", {{"__meta_vpsfleet_tier", "coordinator"}}}});
            auto read = [agent_port](pqxx::connection& conn) {
                pqxx::read_transaction tx(conn);
                json out = json::array();
                for (const auto& r :
                     tx.exec("SELECT h.id, h.name, h.ip, g.name, h.state, h.enabled, "
                             "h.metrics_listen FROM hosts h "
                             "JOIN regions g ON g.id = h.region_id ORDER BY h.id")) {
                    // Enrolled hosts have no address until an operator sets one; their name is
                    // the agent's hostname then.
                    const auto ip = r[2].as<std::string>();
                    const auto name = r[1].as<std::string>();
                    const auto listen =
                        r[6].is_null() ? std::nullopt : std::optional(r[6].as<std::string>());
                    out.push_back(
                        {{"targets", {agent_target(ip.empty() ? name : ip, listen, agent_port)}},
                         {"labels",
                          {{"__meta_vpsfleet_tier", "agent"},
                           {"__meta_vpsfleet_host_id", r[0].as<std::string>()},
                           {"__meta_vpsfleet_host_state", r[4].as<std::string>()},
                           {"__meta_vpsfleet_host_enabled", r[5].as<bool>() ? "true" : "false"},
                           {"host", name},
                           {"region", r[3].as<std::string>()}}}});
                }
                return out;
            };
            const json hosts = co_await s.db.run(read);
            for (const auto& g : hosts) groups.push_back(g);
            co_return json_reply(groups);
        });
}

}  // namespace vpsfleet::api::admin
