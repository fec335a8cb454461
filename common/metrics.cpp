#include "common/metrics.hpp"

#include "common/build_info.hpp"

#include <prometheus/text_serializer.h>

namespace vpsfleet::metrics {

http_metrics::http_metrics(prometheus::Registry& registry, const std::string& prefix)
    : requests_(prometheus::BuildCounter()
                    .Name(prefix + "_http_requests_total")
                    .Help("HTTP requests answered, by route pattern, method and status code")
                    .Register(registry)),
      latency_(
          prometheus::BuildHistogram()
              .Name(prefix + "_http_request_duration_seconds")
              .Help("Time from a complete request to its response, by route pattern and method")
              .Register(registry)) {}

void http_metrics::observe(const std::string& route, const std::string& method, unsigned status,
                           std::chrono::duration<double> elapsed) {
    requests_.Add({{"route", route}, {"method", method}, {"status", std::to_string(status)}})
        .Increment();
    static const prometheus::Histogram::BucketBoundaries buckets{
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
    latency_.Add({{"route", route}, {"method", method}}, buckets).Observe(elapsed.count());
}

http::handler http_metrics::instrument(const http::router& router) {
    return [this, &router](http::request& req) -> boost::asio::awaitable<http::response> {
        const auto started = std::chrono::steady_clock::now();
        std::string route;
        http::response res = co_await router.handle(req, route);
        observe(route, std::string(req.method_string()), res.result_int(),
                std::chrono::steady_clock::now() - started);
        co_return res;
    };
}

void register_build_info(prometheus::Registry& registry, const std::string& prefix) {
    prometheus::BuildGauge()
        .Name(prefix + "_build_info")
        .Help("Build identity of this binary; the value is always 1")
        .Register(registry)
        .Add({{"version", build::version}, {"commit", build::commit}})
        .Set(1);
}

std::string expose(prometheus::Registry& registry) {
    return prometheus::TextSerializer().Serialize(registry.Collect());
}

}  // namespace vpsfleet::metrics
