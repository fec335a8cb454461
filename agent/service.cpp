#include "agent/service.hpp"

#include "common/log.hpp"

#include <nlohmann/json.hpp>

namespace vpsfleet::agent {

namespace asio = boost::asio;
using verb = boost::beast::http::verb;

service::service(asio::io_context& io, agent_config cfg)
    : io_(io),
      cfg_(std::move(cfg)),
      http_metrics_(registry_, "vpsfleet_agent"),
      collector_(io, registry_, cfg_) {
    metrics::register_build_info(registry_, "vpsfleet_agent");
    router_.add(
        verb::get, "/healthz",
        [this](http::request&, const http::path_params&) -> asio::awaitable<http::response> {
            nlohmann::json body{{"status", "ok"},
                                {"hypervisor", collector_.hypervisor_up() ? "up" : "down"}};
            co_return http::json_response(http::status::ok, body.dump());
        });
    router_.add(
        verb::get, "/metrics",
        [this](http::request&, const http::path_params&) -> asio::awaitable<http::response> {
            co_return http::text_response(http::status::ok, metrics::expose(registry_),
                                          metrics::content_type);
        });
}

void service::start() {
    http::server_options options;
    options.name = "vpsfleet-agent";
    options.body_limit = 64 * 1024;
    listener_ = std::make_shared<http::server>(io_, options, http_metrics_.instrument(router_));
    // Port 0 picks a free port; hello reports the one bound, for Prometheus to find.
    cfg_.metrics_listen.port =
        listener_->listen(cfg_.metrics_listen.host, cfg_.metrics_listen.port).port();
    listener_->start();
    collector_.start();
    link_ = std::make_shared<link::link_client>(io_, cfg_, collector_, registry_);
    link_->start();
}

void service::stop() {
    collector_.stop();
    if (link_) link_->stop();
    if (listener_) listener_->stop();
}

}  // namespace vpsfleet::agent
