#pragma once
// Prometheus metrics shared by both daemons: the registry, build identity, HTTP request counters
// and latency histograms labelled by route (never by raw path), and the text exposition.
#include "common/router.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <chrono>
#include <memory>
#include <string>

namespace vpsfleet::metrics {

class http_metrics {
  public:
    http_metrics(prometheus::Registry& registry, const std::string& prefix);
    void observe(const std::string& route, const std::string& method, unsigned status,
                 std::chrono::duration<double> elapsed);
    // A server handler that dispatches through the router and records every answer.
    http::handler instrument(const http::router& router);

  private:
    prometheus::Family<prometheus::Counter>& requests_;
    prometheus::Family<prometheus::Histogram>& latency_;
};

// Registers <prefix>_build_info{version,commit} = 1.
void register_build_info(prometheus::Registry& registry, const std::string& prefix);

// The registry in Prometheus text format 0.0.4.
std::string expose(prometheus::Registry& registry);
inline constexpr const char* content_type = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace vpsfleet::metrics
