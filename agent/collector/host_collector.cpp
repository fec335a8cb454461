#include "agent/collector/host_collector.hpp"

#include "common/log.hpp"
#include "common/offload.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace vpsfleet::agent {

namespace asio = boost::asio;

namespace {
constexpr const char* k_domain_states[] = {"running", "blocked", "paused",    "shutting_down",
                                           "shutoff", "crashed", "suspended", "unknown"};
}

host_collector::host_collector(asio::io_context& io, prometheus::Registry& registry,
                               const agent_config& cfg)
    : io_(io),
      cfg_(cfg),
      timer_(io),
      up_gauge_(prometheus::BuildGauge()
                    .Name("vpsfleet_agent_hypervisor_up")
                    .Help("1 when the last sample reached the hypervisor, else 0")
                    .Register(registry)
                    .Add({{"driver", cfg.driver}})),
      cpus_(prometheus::BuildGauge()
                .Name("vpsfleet_agent_host_cpus")
                .Help("Logical CPUs of the host as the hypervisor reports them")
                .Register(registry)
                .Add({})),
      memory_(prometheus::BuildGauge()
                  .Name("vpsfleet_agent_host_memory_bytes")
                  .Help("Physical memory of the host as the hypervisor reports it")
                  .Register(registry)
                  .Add({})),
      domains_(prometheus::BuildGauge()
                   .Name("vpsfleet_agent_domains")
                   .Help("Guests defined on the host, by state")
                   .Register(registry)),
      info_(prometheus::BuildGauge()
                .Name("vpsfleet_agent_host_info")
                .Help("Identity of the host; the value is always 1")
                .Register(registry)) {}

host_collector::~host_collector() {
    hypervisor_thread_.stop();
    hypervisor_thread_.join();
}

void host_collector::start() { asio::co_spawn(io_, loop(), asio::detached); }

void host_collector::stop() {
    stopping_ = true;
    timer_.cancel();
}

std::optional<host_snapshot> host_collector::latest() const {
    std::lock_guard lock(latest_mutex_);
    return latest_;
}

libvirt::connection& host_collector::connection() {
    if (!conn_ || !conn_->alive()) {
        conn_.reset();
        conn_ = std::make_unique<libvirt::connection>(cfg_.libvirt_uri);
    }
    return *conn_;
}

host_snapshot host_collector::sample() {
    try {
        auto& conn = connection();
        return host_snapshot{conn.facts(), conn.domains()};
    } catch (...) {
        conn_.reset();
        throw;
    }
}

void host_collector::publish(const libvirt::host_facts& facts) {
    cpus_.Set(facts.cpus);
    memory_.Set(static_cast<double>(facts.memory_bytes));
    for (const char* state : k_domain_states) {
        auto it = facts.domains_by_state.find(state);
        domains_.Add({{"state", state}}).Set(it == facts.domains_by_state.end() ? 0 : it->second);
    }
    const std::string host = cfg_.host_name.value_or(facts.hostname);
    if (host != published_host_) {
        if (info_gauge_ != nullptr) info_.Remove(info_gauge_);
        info_gauge_ =
            &info_.Add({{"host", host}, {"driver", cfg_.driver}, {"cpu_model", facts.cpu_model}});
        info_gauge_->Set(1);
        published_host_ = host;
    }
}

asio::awaitable<void> host_collector::loop() {
    while (!stopping_) {
        try {
            auto snapshot = co_await offload(hypervisor_thread_, [this] { return sample(); });
            const auto& facts = snapshot.facts;
            publish(facts);
            {
                std::lock_guard lock(latest_mutex_);
                latest_ = snapshot;
            }
            reported_down_ = false;
            if (!up_.exchange(true)) {
                log::info("hypervisor connected",
                          {{"uri", cfg_.libvirt_uri},
                           {"host", cfg_.host_name.value_or(facts.hostname)},
                           {"cpus", facts.cpus},
                           {"memory_bytes", facts.memory_bytes}});
            }
            up_gauge_.Set(1);
        } catch (const std::exception& e) {
            up_gauge_.Set(0);
            up_ = false;
            // Logged once per outage, so a long one does not flood the journal.
            if (!reported_down_) {
                log::warn("hypervisor unreachable",
                          {{"uri", cfg_.libvirt_uri}, {"error", e.what()}});
                reported_down_ = true;
            }
        }
        timer_.expires_after(cfg_.collect_interval);
        boost::system::error_code ec;
        co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

}  // namespace vpsfleet::agent
