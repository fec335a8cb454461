#include "tests/integration/test_helpers.hpp"

#include <pqxx/pqxx>

namespace vpsfleet::testing {

std::string query_text(pqxx::connection_base& conn, const std::string& sql) {
    const auto rows = pqxx::read_transaction(conn).exec(sql);
    return rows.empty() || rows[0][0].is_null() ? "" : rows[0][0].as<std::string>();
}

std::string query_text(const std::string& database_url, const std::string& sql) {
    pqxx::connection conn(database_url);
    return query_text(conn, sql);
}

void exec_sql(const std::string& database_url, const std::string& sql) {
    pqxx::connection conn(database_url);
    pqxx::work tx(conn);
    tx.exec(sql);
    tx.commit();
}

std::chrono::system_clock::time_point utc(int y, unsigned m, unsigned d, int hour) {
    using namespace std::chrono;
    return sys_days{year{y} / month{m} / day{d}} + hours{hour};
}

}  // namespace vpsfleet::testing
