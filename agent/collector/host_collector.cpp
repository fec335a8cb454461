#include "agent/collector/host_collector.hpp"

#include "agent/driver/make_driver.hpp"
#include "common/log.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace vpsfleet::agent {

namespace asio = boost::asio;

namespace {

constexpr const char* k_domain_states[] = {"running", "blocked", "paused",    "shutting_down",
                                           "shutoff", "crashed", "suspended", "unknown"};
// Enough for a few slow operations (a guest taking its time to shut down) next to the sampling.
constexpr std::size_t k_worker_threads = 4;

}  // namespace

host_collector::host_collector(asio::io_context& io, prometheus::Registry& registry,
                               const agent_config& cfg)
    : host_collector(io, registry, cfg, driver::make_driver(cfg)) {}

host_collector::host_collector(asio::io_context& io, prometheus::Registry& registry,
                               const agent_config& cfg,
                               std::unique_ptr<driver::hypervisor> hypervisor)
    : host_collector(io, registry, cfg, std::move(hypervisor), nullptr) {}

host_collector::host_collector(asio::io_context& io, prometheus::Registry& registry,
                               const agent_config& cfg,
                               std::unique_ptr<driver::hypervisor> hypervisor,
                               asio::thread_pool& shared_workers)
    : host_collector(io, registry, cfg, std::move(hypervisor), &shared_workers) {}

host_collector::host_collector(asio::io_context& io, prometheus::Registry& registry,
                               const agent_config& cfg,
                               std::unique_ptr<driver::hypervisor> hypervisor,
                               asio::thread_pool* shared_workers)
    : io_(io),
      cfg_(cfg),
      timer_(io),
      pool_(std::move(hypervisor), k_worker_threads, shared_workers),
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
      memory_free_(prometheus::BuildGauge()
                       .Name("vpsfleet_agent_host_memory_free_bytes")
                       .Help("Host memory free or reclaimable (page cache, buffers)")
                       .Register(registry)
                       .Add({})),
      cpu_busy_(prometheus::BuildGauge()
                    .Name("vpsfleet_agent_host_cpu_busy_ratio")
                    .Help("Share of the host's CPU time spent busy since the previous sample")
                    .Register(registry)
                    .Add({})),
      pool_bytes_(prometheus::BuildGauge()
                      .Name("vpsfleet_agent_storage_pool_bytes")
                      .Help("Storage pool size, by pool and kind (capacity, allocation, available)")
                      .Register(registry)),
      domains_(prometheus::BuildGauge()
                   .Name("vpsfleet_agent_domains")
                   .Help("Guests defined on the host, by state")
                   .Register(registry)),
      info_(prometheus::BuildGauge()
                .Name("vpsfleet_agent_host_info")
                .Help("Identity of the host; the value is always 1")
                .Register(registry)),
      vm_metrics_(registry) {
    pool_.get().on_event([this](const driver::vm_event& e) {
        refresh_soon();
        std::lock_guard lock(mutex_);
        if (listener_) listener_(e);
    });
}

host_collector::~host_collector() { pool_.get().on_event(nullptr); }

void host_collector::start() { asio::co_spawn(io_, loop(), asio::detached); }

void host_collector::stop() {
    stopping_ = true;
    timer_.cancel();
}

void host_collector::refresh_soon() {
    refresh_ = true;
    asio::post(io_, [this] { timer_.cancel(); });
}

void host_collector::on_event(driver::event_handler listener) {
    std::lock_guard lock(mutex_);
    listener_ = std::move(listener);
}

std::optional<host_snapshot> host_collector::latest() const {
    std::lock_guard lock(mutex_);
    return latest_;
}

std::optional<protocol::metrics_batch> host_collector::latest_usage() const {
    std::lock_guard lock(mutex_);
    return latest_usage_;
}

void host_collector::publish(const sample_result& sample) {
    const auto& facts = sample.snapshot.facts;
    cpus_.Set(facts.cpus);
    memory_.Set(static_cast<double>(facts.memory_bytes));
    for (const char* state : k_domain_states) {
        auto it = facts.domains_by_state.find(state);
        domains_.Add({{"state", state}}).Set(it == facts.domains_by_state.end() ? 0 : it->second);
    }
    const std::string host_name = cfg_.host_name.value_or(facts.hostname);
    if (host_name != published_host_) {
        if (info_gauge_ != nullptr) info_.Remove(info_gauge_);
        info_gauge_ = &info_.Add(
            {{"host", host_name}, {"driver", cfg_.driver}, {"cpu_model", facts.cpu_model}});
        info_gauge_->Set(1);
        published_host_ = host_name;
    }
    if (!sample.stats) {
        if (!reported_stats_error_)
            log::warn("cannot read hypervisor statistics", {{"error", sample.stats_error}});
        reported_stats_error_ = true;
        return;
    }
    reported_stats_error_ = false;
    const auto& host = sample.stats->host;
    memory_free_.Set(static_cast<double>(host.memory_free_bytes));
    if (host.cpu_busy_ns && host.cpu_idle_ns) {
        if (last_cpu_) {
            const double busy = static_cast<double>(*host.cpu_busy_ns - last_cpu_->first);
            const double idle = static_cast<double>(*host.cpu_idle_ns - last_cpu_->second);
            if (busy + idle > 0) cpu_busy_.Set(busy / (busy + idle));
        }
        last_cpu_ = std::pair(*host.cpu_busy_ns, *host.cpu_idle_ns);
    }
    for (const auto& pool : host.pools) {
        pool_bytes_.Add({{"pool", pool.name}, {"kind", "capacity"}})
            .Set(static_cast<double>(pool.capacity_bytes));
        pool_bytes_.Add({{"pool", pool.name}, {"kind", "allocation"}})
            .Set(static_cast<double>(pool.allocation_bytes));
        pool_bytes_.Add({{"pool", pool.name}, {"kind", "available"}})
            .Set(static_cast<double>(pool.available_bytes));
    }
    vm_metrics_.publish(sample.stats->vms);
    if (auto usage = usage_meter_.next(*sample.stats)) {
        std::lock_guard lock(mutex_);
        latest_usage_ = std::move(usage);
    }
}

asio::awaitable<void> host_collector::loop() {
    auto sample = [](driver::hypervisor& h) -> driver::result<sample_result> {
        auto facts = h.facts();
        if (!facts) return facts.error();
        auto inventory = h.inventory();
        if (!inventory) return inventory.error();
        sample_result out{{std::move(*facts), std::move(*inventory)}, std::nullopt, {}};
        if (auto stats = h.stats()) {
            out.stats = std::move(*stats);
        } else {
            out.stats_error = stats.error().message;
        }
        return out;
    };
    while (!stopping_) {
        refresh_ = false;
        auto result = co_await pool_.run(sample);
        if (result) {
            publish(*result);
            const auto& facts = result->snapshot.facts;
            {
                std::lock_guard lock(mutex_);
                latest_ = result->snapshot;
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
        } else {
            up_gauge_.Set(0);
            up_ = false;
            // Logged once per outage, so a long one does not flood the journal.
            if (!reported_down_) {
                log::warn("hypervisor unreachable",
                          {{"uri", cfg_.libvirt_uri}, {"error", result.error().message}});
                reported_down_ = true;
            }
        }
        if (stopping_) break;
        if (refresh_) continue;  // something changed while sampling: look again
        timer_.expires_after(cfg_.collect_interval);
        boost::system::error_code ec;
        co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
}

}  // namespace vpsfleet::agent
