#pragma once
// Small helpers the integration tests share: one-statement SQL against a test database, and a
// bounded wait for a condition that becomes true in the background (a job, an agent report).
#include <pqxx/connection>

#include <chrono>
#include <string>
#include <thread>

namespace vpsfleet::testing {

// The first column of the first row as text; "" when there is no row or it is NULL.
std::string query_text(pqxx::connection_base& conn, const std::string& sql);
std::string query_text(const std::string& database_url, const std::string& sql);

// Runs one statement in its own committed transaction.
void exec_sql(const std::string& database_url, const std::string& sql);

// Midnight UTC of the date plus `hour` hours.
std::chrono::system_clock::time_point utc(int y, unsigned m, unsigned d, int hour = 0);

// Polls `pred` every 50 ms until it holds or `timeout` passes; asks once more at the deadline.
template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return pred();
}

}  // namespace vpsfleet::testing
