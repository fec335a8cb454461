#include "coordinator/fleet/usage_samples.hpp"

#include "common/utc_time.hpp"

#include <cctype>
#include <cmath>
#include <limits>
#include <tuple>

namespace vpsfleet::fleet {

namespace {

using clock_type = std::chrono::system_clock;

constexpr auto k_clock_slack = std::chrono::minutes(5);

// 8-4-4-4-12 hex digits. Checked by hand: a regex here costs more than the COPY of the row.
bool is_uuid(const std::string& s) {
    if (s.size() != 36) return false;
    for (std::size_t i = 0; i < s.size(); ++i) {
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
    }
    return true;
}

// Counters past bigint's range would fail the whole COPY; they are clamped instead.
std::int64_t as_bigint(std::uint64_t v) {
    constexpr auto k_max = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    return static_cast<std::int64_t>(std::min(v, k_max));
}

// A CPU figure as stored: a finite, non-negative number.
bool usable(double percent) { return std::isfinite(percent) && percent >= 0; }

// Rows come in runs from one message, all stamped alike: the text is made once per run.
class timestamp_text {
  public:
    const std::string& of(clock_type::time_point at) {
        if (text_.empty() || at != at_) {
            at_ = at;
            text_ = iso8601_utc(at, true);
        }
        return text_;
    }

  private:
    clock_type::time_point at_;
    std::string text_;
};

}  // namespace

std::size_t append_rows(sample_rows& out, std::int64_t host_id, const protocol::metrics_batch& m,
                        clock_type::time_point now) {
    auto at = clock_type::time_point(std::chrono::milliseconds(m.at));
    if (at < now - k_clock_slack || at > now + k_clock_slack) at = now;
    std::size_t refused = 0;
    if (usable(m.host.cpu_percent)) {
        out.hosts.push_back({at, host_id, m.host.cpu_percent, as_bigint(m.host.memory_used_bytes),
                             as_bigint(m.host.memory_total_bytes)});
    } else {
        ++refused;
    }
    for (const auto& v : m.vms) {
        if (!is_uuid(v.uuid) || !usable(v.cpu_percent)) {
            ++refused;
            continue;
        }
        out.vms.push_back({at, host_id, v.uuid, v.cpu_percent, as_bigint(v.memory_used_bytes),
                           as_bigint(v.disk_read_bytes), as_bigint(v.disk_write_bytes),
                           as_bigint(v.net_rx_bytes), as_bigint(v.net_tx_bytes)});
    }
    return refused;
}

void write_samples(pqxx::connection& conn, const sample_rows& rows) {
    if (rows.size() == 0) return;
    pqxx::work tx(conn);
    timestamp_text stamp;
    if (!rows.vms.empty()) {
        pqxx::stream_to copy(
            tx, "vm_samples",
            std::vector<std::string>{"at", "host_id", "vm_uuid", "cpu_percent", "memory_used",
                                     "disk_read", "disk_write", "net_rx", "net_tx"});
        for (const auto& r : rows.vms) {
            copy << std::make_tuple(stamp.of(r.at), r.host_id, r.vm_uuid, r.cpu_percent,
                                    r.memory_used, r.disk_read, r.disk_write, r.net_rx, r.net_tx);
        }
        copy.complete();
    }
    if (!rows.hosts.empty()) {
        pqxx::stream_to copy(tx, "host_samples",
                             std::vector<std::string>{"at", "host_id", "cpu_percent", "memory_used",
                                                      "memory_total"});
        for (const auto& r : rows.hosts) {
            copy << std::make_tuple(stamp.of(r.at), r.host_id, r.cpu_percent, r.memory_used,
                                    r.memory_total);
        }
        copy.complete();
    }
    tx.commit();
}

std::int64_t prune_samples(pqxx::connection& conn, std::chrono::seconds retention,
                           std::int64_t limit) {
    pqxx::work tx(conn);
    std::int64_t deleted = 0;
    for (const char* table : {"vm_samples", "host_samples"}) {
        // ctid batches: a day of a large fleet is millions of rows, and one DELETE of them all
        // would hold its locks and bloat the WAL at once.
        deleted += tx.exec_params(std::string("DELETE FROM ") + table +
                                      " WHERE ctid = ANY(ARRAY(SELECT ctid FROM " + table +
                                      " WHERE at < now() - $1 * interval '1 second' LIMIT $2))",
                                  static_cast<std::int64_t>(retention.count()), limit)
                       .affected_rows();
    }
    tx.commit();
    return deleted;
}

sample_buffer::added sample_buffer::add(std::int64_t host_id, const protocol::metrics_batch& m) {
    std::lock_guard lock(mutex_);
    if (rows_.size() + m.vms.size() + 1 > capacity_) return {false, 0};
    return {true, append_rows(rows_, host_id, m, clock_type::now())};
}

sample_rows sample_buffer::take() {
    std::lock_guard lock(mutex_);
    return std::exchange(rows_, {});
}

}  // namespace vpsfleet::fleet
