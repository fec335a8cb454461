// vpsfleet-sim: N simulated hypervisor hosts in one process, each a real agent link (link_client,
// command runner, journal) with its own enrolled certificate and mutual-TLS WebSocket, driving an
// in-memory hypervisor of M VMs. All links share one io_context (1-2 threads) and the drivers one
// small worker pool. Enrollment is cached in --state-dir: a rerun against the same coordinator
// skips it. Prints the links up and the messages sent per second.
#include "agent/collector/host_collector.hpp"
#include "agent/driver/memory/memory_driver.hpp"
#include "agent/link/credentials.hpp"
#include "agent/link/enroll.hpp"
#include "agent/link/link_client.hpp"
#include "common/log.hpp"

#include <prometheus/registry.h>
#include <signal.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using namespace vpsfleet;
using namespace std::chrono_literals;
using json = nlohmann::json;
using sim_clock = std::chrono::steady_clock;

namespace {

struct options {
    std::string coordinator = "https://127.0.0.1:8443";  // the fleet port
    std::string api = "http://127.0.0.1:8080";           // the REST port, for join tokens
    std::string admin_token;                             // bearer token of an admin
    std::string admin_token_file;                        // or read from this file
    std::optional<std::int64_t> region_id;               // default: the first region
    unsigned agents = 100;
    unsigned vms = 10;
    std::chrono::milliseconds interval{10'000};  // the collector's sampling interval
    std::chrono::milliseconds command_delay{200};
    std::string state_dir = "sim-state";
    std::chrono::seconds duration{0};  // 0: until SIGINT/SIGTERM
    unsigned threads = 1;              // io_context threads
    unsigned workers = 4;              // driver worker threads, shared by all hosts
    unsigned enroll_threads = 4;
    std::chrono::milliseconds ramp{0};  // spread the first connections over this long
    std::chrono::seconds report{5};
    bool stats = false;  // per-VM stats and Prometheus series (costly for big fleets)
};

[[noreturn]] void usage(const std::string& why) {
    std::cerr << "vpsfleet-sim: " << why << "\n"
              << "usage: vpsfleet-sim --coordinator https://HOST:8443 --api http://HOST:8080\n"
                 "         [--admin-token TOKEN | --admin-token-file PATH] [--region-id ID]\n"
                 "         [--agents N] [--vms M] [--interval SECONDS] [--command-delay MS]\n"
                 "         [--state-dir DIR] [--duration SECONDS] [--threads T] [--workers W]\n"
                 "         [--enroll-threads E] [--ramp SECONDS] [--report SECONDS] [--stats]\n";
    std::exit(2);
}

options parse(int argc, char** argv) {
    options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) usage(a + " needs a value");
            return argv[++i];
        };
        auto number = [&]() -> double {
            const std::string v = value();
            try {
                return std::stod(v);
            } catch (const std::exception&) {
                usage(a + ": not a number: " + v);
            }
        };
        auto ms = [&]() { return std::chrono::milliseconds(static_cast<long long>(number())); };
        auto s_to_ms = [&]() {
            return std::chrono::milliseconds(static_cast<long long>(number() * 1000));
        };
        if (a == "--coordinator")
            o.coordinator = value();
        else if (a == "--api")
            o.api = value();
        else if (a == "--admin-token")
            o.admin_token = value();
        else if (a == "--admin-token-file")
            o.admin_token_file = value();
        else if (a == "--region-id")
            o.region_id = static_cast<std::int64_t>(number());
        else if (a == "--agents")
            o.agents = static_cast<unsigned>(number());
        else if (a == "--vms")
            o.vms = static_cast<unsigned>(number());
        else if (a == "--interval")
            o.interval = s_to_ms();
        else if (a == "--command-delay")
            o.command_delay = ms();
        else if (a == "--state-dir")
            o.state_dir = value();
        else if (a == "--duration")
            o.duration = std::chrono::seconds(static_cast<long>(number()));
        else if (a == "--threads")
            o.threads = std::max(1u, static_cast<unsigned>(number()));
        else if (a == "--workers")
            o.workers = std::max(1u, static_cast<unsigned>(number()));
        else if (a == "--enroll-threads")
            o.enroll_threads = std::max(1u, static_cast<unsigned>(number()));
        else if (a == "--ramp")
            o.ramp = s_to_ms();
        else if (a == "--report")
            o.report = std::chrono::seconds(static_cast<long>(number()));
        else if (a == "--stats")
            o.stats = true;
        else
            usage("unknown option " + a);
    }
    if (o.agents == 0) usage("--agents must be at least 1");
    if (!o.admin_token_file.empty()) {
        std::ifstream in(o.admin_token_file);
        std::getline(in, o.admin_token);
    }
    return o;
}

std::string agent_dir(const options& o, unsigned i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "/agent-%05u", i);
    return o.state_dir + buf;
}

std::string host_name(unsigned i) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "sim-%05u", i);
    return buf;
}

double seconds_since(sim_clock::time_point t) {
    return std::chrono::duration<double>(sim_clock::now() - t).count();
}

// A keep-alive plain-HTTP connection to the coordinator's REST port, for the admin API.
class admin_client {
  public:
    admin_client(const std::string& api, std::string token) : token_(std::move(token)) {
        std::string rest = api;
        if (rest.starts_with("http://")) rest = rest.substr(7);
        const auto slash = rest.find('/');
        if (slash != std::string::npos) rest = rest.substr(0, slash);
        const auto colon = rest.rfind(':');
        host_ = rest.substr(0, colon);
        port_ = colon == std::string::npos ? "80" : rest.substr(colon + 1);
    }

    std::pair<int, json> call(bhttp::verb verb, const std::string& target, const json& body) {
        for (int attempt = 0;; ++attempt) {
            try {
                if (!stream_) connect();
                bhttp::request<bhttp::string_body> req{verb, target, 11};
                req.set(bhttp::field::host, host_);
                req.set(bhttp::field::authorization, "Bearer " + token_);
                if (!body.is_null()) {
                    req.set(bhttp::field::content_type, "application/json");
                    req.body() = body.dump();
                }
                req.keep_alive(true);
                req.prepare_payload();
                bhttp::write(*stream_, req);
                beast::flat_buffer buffer;
                bhttp::response<bhttp::string_body> res;
                bhttp::read(*stream_, buffer, res);
                if (!res.keep_alive()) stream_.reset();
                return {res.result_int(), json::parse(res.body(), nullptr, false)};
            } catch (const std::exception&) {
                stream_.reset();
                if (attempt >= 2) throw;
            }
        }
    }

  private:
    void connect() {
        asio::ip::tcp::resolver resolver(io_);
        stream_.emplace(io_);
        stream_->connect(resolver.resolve(host_, port_));
    }

    asio::io_context io_;
    std::optional<beast::tcp_stream> stream_;
    std::string host_, port_, token_;
};

// Enrolls every simulated host that has no credentials in the state directory yet: join tokens
// through the admin API (one admin token makes them all), then the real enrollment, in parallel.
void enroll_missing(options& o) {
    std::vector<unsigned> missing;
    for (unsigned i = 0; i < o.agents; ++i) {
        if (!agent::link::load_credentials(agent_dir(o, i))) missing.push_back(i);
    }
    std::cout << "enrollment: " << (o.agents - missing.size()) << " cached, " << missing.size()
              << " to enroll" << std::endl;
    if (missing.empty()) return;
    if (o.admin_token.empty()) usage("--admin-token is needed to enroll new hosts");
    if (!o.region_id) {
        admin_client admin(o.api, o.admin_token);
        auto [status, body] = admin.call(bhttp::verb::get, "/api/admin/v1/regions", nullptr);
        if (status != 200 || !body.contains("data") || body["data"].empty())
            throw std::runtime_error("cannot list regions: HTTP " + std::to_string(status));
        o.region_id = body["data"][0]["id"].get<std::int64_t>();
    }

    std::vector<std::string> tokens(missing.size());
    std::atomic<std::size_t> next{0};
    std::atomic<unsigned> failures{0};
    std::mutex err_mutex;
    std::string first_error;
    auto note_error = [&](const std::string& e) {
        ++failures;
        std::lock_guard lock(err_mutex);
        if (first_error.empty()) first_error = e;
    };
    auto parallel = [&](auto&& work) {
        next = 0;
        std::vector<std::thread> threads;
        for (unsigned t = 0; t < o.enroll_threads; ++t) threads.emplace_back(work);
        for (auto& t : threads) t.join();
    };

    const auto t0 = sim_clock::now();
    parallel([&] {
        admin_client admin(o.api, o.admin_token);
        const json body{{"region_id", *o.region_id}, {"ttl_seconds", 3600}};
        for (std::size_t k; (k = next++) < missing.size();) {
            try {
                auto [status, reply] =
                    admin.call(bhttp::verb::post, "/api/admin/v1/join_tokens", body);
                if (status != 201) {
                    note_error("join token: HTTP " + std::to_string(status) + " " + reply.dump());
                    continue;
                }
                tokens[k] = reply["data"]["token"];
            } catch (const std::exception& e) {
                note_error(std::string("join token: ") + e.what());
            }
        }
    });
    const double token_s = seconds_since(t0);
    std::printf("join tokens: %zu in %.2f s (%.0f/s, %u threads, one admin token)\n",
                missing.size(), token_s, static_cast<double>(missing.size()) / token_s,
                o.enroll_threads);

    const auto t1 = sim_clock::now();
    parallel([&] {
        for (std::size_t k; (k = next++) < missing.size();) {
            if (tokens[k].empty()) continue;
            const unsigned i = missing[k];
            try {
                std::filesystem::create_directories(agent_dir(o, i));
                agent::link::enroll(
                    {o.coordinator, tokens[k], std::nullopt, host_name(i), agent_dir(o, i)});
            } catch (const std::exception& e) {
                note_error(std::string("enroll: ") + e.what());
            }
        }
    });
    const double enroll_s = seconds_since(t1);
    std::printf("enrolled: %zu in %.2f s (%.0f/s, %u threads); failures: %u%s%s\n",
                missing.size() - failures.load(), enroll_s,
                static_cast<double>(missing.size()) / enroll_s, o.enroll_threads, failures.load(),
                first_error.empty() ? "" : "; first: ", first_error.c_str());
    std::fflush(stdout);
}

struct sim_agent {
    agent::agent_config cfg;
    prometheus::Registry link_registry;  // one per link: its connected gauge is this host's
    std::unique_ptr<agent::host_collector> collector;
    std::shared_ptr<agent::link::link_client> link;
    prometheus::Gauge* connected = nullptr;
    prometheus::Family<prometheus::Counter>* messages = nullptr;
};

struct totals {
    unsigned connected = 0;
    double sent = 0;
    double received = 0;
};

totals tally(const std::vector<std::unique_ptr<sim_agent>>& agents) {
    totals t;
    for (const auto& a : agents) {
        if (a->connected->Value() > 0.5) ++t.connected;
        for (const auto& family : a->messages->Collect()) {
            for (const auto& m : family.metric) {
                for (const auto& l : m.label) {
                    if (l.name != "direction") continue;
                    (l.value == "out" ? t.sent : t.received) += m.counter.value;
                }
            }
        }
    }
    return t;
}

}  // namespace

int main(int argc, char** argv) {
    options o = parse(argc, argv);
    log::set_level(log::level::error);  // 10,000 "link up" lines say nothing
    std::filesystem::create_directories(o.state_dir);
    try {
        enroll_missing(o);
    } catch (const std::exception& e) {
        std::cerr << "vpsfleet-sim: " << e.what() << "\n";
        return 1;
    }

    asio::io_context io;
    asio::thread_pool workers(o.workers);
    prometheus::Registry shared_registry;  // the collectors' series, never served
    std::vector<std::unique_ptr<sim_agent>> agents;
    agents.reserve(o.agents);
    unsigned enrolled = 0;
    for (unsigned i = 0; i < o.agents; ++i) {
        if (!agent::link::load_credentials(agent_dir(o, i))) continue;  // enrollment failed
        ++enrolled;
        auto a = std::make_unique<sim_agent>();
        a->cfg.host_name = host_name(i);
        a->cfg.driver = "memory";
        a->cfg.libvirt_uri = "memory://";
        a->cfg.state_dir = agent_dir(o, i);
        a->cfg.collect_interval = o.interval;
        // Nothing listens there; hello must name some address, and a distinct one per host.
        a->cfg.metrics_listen = {"127.0.0.1", static_cast<std::uint16_t>(20000 + i % 40000)};
        auto driver = std::make_unique<agent::driver::memory_driver>(agent::driver::memory_options{
            host_name(i), o.vms, o.command_delay, 32, 128ULL << 30, 4ULL << 40, o.stats});
        a->collector = std::make_unique<agent::host_collector>(io, shared_registry, a->cfg,
                                                               std::move(driver), workers);
        a->link =
            std::make_shared<agent::link::link_client>(io, a->cfg, *a->collector, a->link_registry);
        a->connected = &prometheus::BuildGauge()
                            .Name("vpsfleet_agent_link_connected")
                            .Help("1 while the link to the coordinator is up and welcomed")
                            .Register(a->link_registry)
                            .Add({});
        a->messages = &prometheus::BuildCounter()
                           .Name("vpsfleet_agent_link_messages_total")
                           .Help("Fleet protocol messages by direction (in, out) and type")
                           .Register(a->link_registry);
        agents.push_back(std::move(a));
    }
    std::cout << "agents: " << enrolled << " of " << o.agents << " enrolled, " << o.vms
              << " VMs each, interval " << o.interval.count() << " ms, command delay "
              << o.command_delay.count() << " ms, " << o.threads << " io threads, " << o.workers
              << " driver workers" << std::endl;

    // Start the links spread over --ramp (all at once when 0): the collector first, so the hello
    // carries the host's facts.
    const auto started = sim_clock::now();
    std::vector<std::unique_ptr<asio::steady_timer>> ramp_timers;
    for (std::size_t k = 0; k < agents.size(); ++k) {
        auto* a = agents[k].get();
        const auto delay = o.ramp * static_cast<long long>(k) /
                           static_cast<long long>(std::max<std::size_t>(1, agents.size()));
        auto t = std::make_unique<asio::steady_timer>(io, delay);
        t->async_wait([a](const boost::system::error_code& ec) {
            if (ec) return;
            a->collector->start();
            a->link->start();
        });
        ramp_timers.push_back(std::move(t));
    }

    std::atomic<bool> stopping{false};
    auto stop_all = [&] {
        if (stopping.exchange(true)) return;
        for (auto& t : ramp_timers) t->cancel();
        for (auto& a : agents) {
            a->collector->stop();
            a->link->stop();
        }
        // The links close their sockets on their strands; give them a moment, then stop.
        auto done = std::make_shared<asio::steady_timer>(io, 1s);
        done->async_wait([&io, done](const boost::system::error_code&) { io.stop(); });
    };
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int) {
        if (!ec) stop_all();
    });

    // Reports on its own thread, so a busy io_context does not delay (or distort) the figures.
    std::thread reporter([&] {
        totals last;
        auto last_at = sim_clock::now();
        unsigned first_all = 0;
        while (!stopping) {
            const auto next = last_at + o.report;
            while (!stopping && sim_clock::now() < next) std::this_thread::sleep_for(100ms);
            if (stopping) break;
            const auto now = sim_clock::now();
            const auto t = tally(agents);
            const double dt = std::chrono::duration<double>(now - last_at).count();
            if (t.connected == agents.size() && first_all == 0)
                first_all = static_cast<unsigned>(seconds_since(started));
            std::printf(
                "t=%.0fs connected=%u/%zu sent=%.0f msg/s received=%.0f msg/s total_sent=%.0f\n",
                seconds_since(started), t.connected, agents.size(), (t.sent - last.sent) / dt,
                (t.received - last.received) / dt, t.sent);
            std::fflush(stdout);
            last = t;
            last_at = now;
            if (o.duration.count() > 0 && now - started >= o.duration) {
                asio::post(io, stop_all);
                break;
            }
        }
    });

    std::vector<std::thread> io_threads;
    for (unsigned t = 1; t < o.threads; ++t) io_threads.emplace_back([&io] { io.run(); });
    io.run();
    for (auto& t : io_threads) t.join();
    stopping = true;
    reporter.join();
    workers.stop();
    workers.join();
    const auto t = tally(agents);
    std::printf("done: %.0f s, connected at the end %u/%zu, messages sent %.0f, received %.0f\n",
                seconds_since(started), t.connected, agents.size(), t.sent, t.received);
    std::fflush(stdout);
    // Coroutines of the links are still parked in the stopped io_context; tearing them down one
    // by one would only cost time.
    std::_Exit(0);
}
