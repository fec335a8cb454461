// Usage-sample ingest against raw COPY on a throwaway PostgreSQL. The ingest path is the
// coordinator's own: each agent's `metrics` message as JSON text is decoded (protocol codec) and
// checked into the shared sample buffer (fleet/usage_samples) on one thread, while another takes
// what gathered and writes it with COPY. The baseline sends the same rows, already in COPY's text
// form, through libpq's PQputCopyData into a twin table with the same columns and indexes. Also:
// bytes stored per sample. Usage: bench_ingest [AGENTS] [VMS] [FLUSHES]   (defaults: 10000 10 3)
#include "common/utc_time.hpp"
#include "coordinator/fleet/usage_samples.hpp"
#include "coordinator/store/migrations.hpp"
#include "protocol/codec.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <libpq-fe.h>
#include <pqxx/pqxx>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace vpsfleet;
using clock_type = std::chrono::steady_clock;

namespace {

double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

std::string uuid_of(int agent, int vm) {
    char out[37];
    std::snprintf(out, sizeof out, "%08x-0000-4000-8000-%012x", agent, vm);
    return out;
}

// One flush interval's worth of messages, as the agents send them.
std::vector<std::string> messages(int agents, int vms, std::int64_t at_ms, std::uint64_t tick) {
    std::vector<std::string> out;
    out.reserve(agents);
    for (int a = 0; a < agents; ++a) {
        protocol::metrics_batch m;
        m.at = at_ms;
        m.host = {12.5, 48ULL << 30, 64ULL << 30};
        for (int v = 0; v < vms; ++v) {
            m.vms.push_back({uuid_of(a, v), 3.5 + v, 1ULL << 30, tick * 4096, tick * 8192,
                             tick * 1500, tick * 900});
        }
        out.push_back(protocol::encode(protocol::make(std::move(m))));
    }
    return out;
}

void exec(PGconn* conn, const std::string& sql, ExecStatusType want) {
    PGresult* r = PQexec(conn, sql.c_str());
    const bool ok = PQresultStatus(r) == want;
    const std::string error = PQerrorMessage(conn);
    PQclear(r);
    if (!ok) throw std::runtime_error(sql + ": " + error);
}

// The rows in COPY text form, rendered outside the baseline's clock.
std::string copy_text(const fleet::sample_rows& rows) {
    std::string out;
    char line[256];
    for (const auto& r : rows.vms) {
        std::snprintf(line, sizeof line, "%s\t%lld\t%s\t%g\t%lld\t%lld\t%lld\t%lld\t%lld\n",
                      iso8601_utc(r.at, true).c_str(), static_cast<long long>(r.host_id),
                      r.vm_uuid.c_str(), r.cpu_percent, static_cast<long long>(r.memory_used),
                      static_cast<long long>(r.disk_read), static_cast<long long>(r.disk_write),
                      static_cast<long long>(r.net_rx), static_cast<long long>(r.net_tx));
        out += line;
    }
    return out;
}

double raw_copy(const std::string& url, const std::vector<std::string>& batches) {
    PGconn* conn = PQconnectdb(url.c_str());
    if (PQstatus(conn) != CONNECTION_OK) throw std::runtime_error(PQerrorMessage(conn));
    const auto start = clock_type::now();
    for (const auto& text : batches) {
        exec(conn, "BEGIN", PGRES_COMMAND_OK);
        exec(conn, "COPY raw_samples FROM STDIN", PGRES_COPY_IN);
        if (PQputCopyData(conn, text.data(), static_cast<int>(text.size())) != 1 ||
            PQputCopyEnd(conn, nullptr) != 1) {
            throw std::runtime_error(PQerrorMessage(conn));
        }
        PGresult* r = PQgetResult(conn);
        const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) throw std::runtime_error(PQerrorMessage(conn));
        exec(conn, "COMMIT", PGRES_COMMAND_OK);
    }
    const double took = seconds_since(start);
    PQfinish(conn);
    return took;
}

}  // namespace

int main(int argc, char** argv) {
    const int agents = argc > 1 ? std::atoi(argv[1]) : 10000;
    const int vms = argc > 2 ? std::atoi(argv[2]) : 10;
    const int flushes = argc > 3 ? std::atoi(argv[3]) : 3;

    testing::throwaway_postgres pg;
    const auto url = pg.create_database("ingest_bench");
    pqxx::connection conn(url);
    store::apply_migrations(conn, store::embedded_migrations());
    pqxx::nontransaction(conn).exec("CREATE TABLE raw_samples (LIKE vm_samples INCLUDING ALL)");

    // Messages for every flush, encoded up front: the agents' side is not being measured.
    const auto now = std::chrono::system_clock::now();
    const auto now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
    std::vector<std::vector<std::string>> rounds;
    for (int f = 0; f < flushes; ++f) rounds.push_back(messages(agents, vms, now_ms + f, f + 1));

    // As in the coordinator: the link side decodes and buffers (its io thread) while the writer
    // takes what has gathered and COPYs it (a database worker), each on its own thread. The
    // writer runs flat out, as a coordinator behind on its flushes would.
    fleet::sample_buffer buffer(static_cast<std::size_t>(agents) * (vms + 1) * flushes + 1);
    std::atomic<bool> produced{false};
    std::vector<fleet::sample_rows> written;
    const auto start = clock_type::now();
    std::thread links([&] {
        for (const auto& round : rounds) {
            for (int a = 0; a < agents; ++a) {
                const auto decoded = protocol::decode(round[a]);
                const auto& env = std::get<protocol::envelope>(decoded);
                buffer.add(a + 1, std::get<protocol::metrics_batch>(env.body));
            }
        }
        produced = true;
    });
    std::size_t samples = 0;
    while (true) {
        const bool last = produced.load();
        auto rows = buffer.take();
        if (rows.size() > 0) {
            samples += rows.vms.size();
            fleet::write_samples(conn, rows);
            written.push_back(std::move(rows));
        } else if (last) {
            break;
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
    }
    const double ingest_rate = static_cast<double>(samples) / seconds_since(start);
    links.join();

    // The baseline sends the same batches as the ingest wrote them.
    std::vector<std::string> raw_batches;
    for (const auto& rows : written) raw_batches.push_back(copy_text(rows));
    const double raw_rate = static_cast<double>(samples) / raw_copy(url, raw_batches);

    pqxx::nontransaction(conn).exec("VACUUM ANALYZE vm_samples");
    pqxx::work tx(conn);
    const auto row = tx.exec1(
        "SELECT pg_total_relation_size('vm_samples'), (SELECT count(*) FROM vm_samples), "
        "pg_total_relation_size('raw_samples')");
    const double per_sample = row[0].as<double>() / row[1].as<double>();
    std::printf("ingest: %.0f samples/s (%d agents x %d VMs, %d flushes, decode + buffer + COPY)\n",
                ingest_rate, agents, vms, flushes);
    std::printf("raw COPY: %.0f rows/s (libpq, pre-rendered text)\n", raw_rate);
    std::printf("ingest ratio: %.2f\n", ingest_rate / raw_rate);
    std::printf("stored: %.0f bytes per sample (table and indexes)\n", per_sample);
    return 0;
}
