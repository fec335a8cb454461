#pragma once
// Schema migrations: the SQL files in coordinator/store/migrations/ are compiled into the binary
// and applied in order, each in its own transaction and recorded in schema_migrations with a
// checksum. A PostgreSQL advisory lock serialises coordinators that start at the same time.
#include <pqxx/pqxx>

#include <stdexcept>
#include <string>
#include <vector>

namespace vpsfleet::store {

struct migration {
    int version;
    std::string name;
    std::string sql;
};

// The migrations built into this binary, ordered by version.
const std::vector<migration>& embedded_migrations();

// Thrown when the database holds a migration this binary does not know, or one whose SQL changed.
struct migration_conflict : std::runtime_error {
    using std::runtime_error::runtime_error;
};

struct migration_report {
    int applied_now = 0;
    int already_applied = 0;
};

migration_report apply_migrations(pqxx::connection& conn, const std::vector<migration>& all);

// Number of the given migrations recorded as applied (0 when the table does not exist yet).
int count_applied(pqxx::connection& conn, const std::vector<migration>& all);

}  // namespace vpsfleet::store
