#pragma once
// Usage samples the agents push (`metrics` messages): checked, buffered across every link, and
// written to PostgreSQL with COPY in batches, so ten thousand hosts cost a few statements a
// second. Counters stay cumulative as the hypervisor reports them; readers take differences.
// Old samples are pruned after the configured retention.
#include "protocol/messages.hpp"

#include <pqxx/pqxx>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace vpsfleet::fleet {

struct host_sample_row {
    std::chrono::system_clock::time_point at;
    std::int64_t host_id = 0;
    double cpu_percent = 0;
    std::int64_t memory_used = 0;
    std::int64_t memory_total = 0;
};

struct vm_sample_row {
    std::chrono::system_clock::time_point at;
    std::int64_t host_id = 0;
    std::string vm_uuid;
    double cpu_percent = 0;
    std::int64_t memory_used = 0;
    std::int64_t disk_read = 0;
    std::int64_t disk_write = 0;
    std::int64_t net_rx = 0;
    std::int64_t net_tx = 0;
};

struct sample_rows {
    std::vector<host_sample_row> hosts;
    std::vector<vm_sample_row> vms;
    std::size_t size() const { return hosts.size() + vms.size(); }
};

// Appends one message's rows. A sample stamped more than five minutes from `now` (a host clock
// that is off) is filed at `now`. VM samples that cannot be stored (a uuid that is not one, a
// CPU figure that is not a number) are left out; returns how many were.
std::size_t append_rows(sample_rows& out, std::int64_t host_id, const protocol::metrics_batch& m,
                        std::chrono::system_clock::time_point now);

// Writes the rows with COPY, in one transaction.
void write_samples(pqxx::connection& conn, const sample_rows& rows);

// Deletes samples older than `retention`, at most `limit` rows of each table; returns how many.
std::int64_t prune_samples(pqxx::connection& conn, std::chrono::seconds retention,
                           std::int64_t limit);

// What the links hand over between two writes; safe to use from any thread. Beyond `capacity`
// rows (the database is away) further messages are refused, and counted by the caller.
class sample_buffer {
  public:
    explicit sample_buffer(std::size_t capacity) : capacity_(capacity) {}
    // False when full; otherwise the number of samples left out as in append_rows.
    struct added {
        bool stored = true;
        std::size_t refused = 0;
    };
    added add(std::int64_t host_id, const protocol::metrics_batch& m);
    sample_rows take();

  private:
    const std::size_t capacity_;
    std::mutex mutex_;
    sample_rows rows_;
};

}  // namespace vpsfleet::fleet
