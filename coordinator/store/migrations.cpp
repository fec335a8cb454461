#include "coordinator/store/migrations.hpp"

#include "common/log.hpp"
#include "common/secrets.hpp"

#include <map>

namespace vpsfleet::store {
namespace {

// Arbitrary but fixed: every coordinator of every version takes the same lock.
constexpr long long k_migration_lock = 0x76707366'6c656574;  // "vpsfleet"

void ensure_table(pqxx::connection& conn) {
    pqxx::work tx(conn);
    tx.exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version integer PRIMARY KEY,"
        " name text NOT NULL,"
        " checksum text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())");
    tx.commit();
}

std::map<int, std::pair<std::string, std::string>> recorded(pqxx::connection& conn) {
    pqxx::read_transaction tx(conn);
    std::map<int, std::pair<std::string, std::string>> out;
    for (const auto& row : tx.exec("SELECT version, name, checksum FROM schema_migrations")) {
        out[row[0].as<int>()] = {row[1].as<std::string>(), row[2].as<std::string>()};
    }
    return out;
}

struct advisory_lock {
    explicit advisory_lock(pqxx::connection& c) : conn(c) {
        pqxx::nontransaction(conn).exec("SELECT pg_advisory_lock(" +
                                        std::to_string(k_migration_lock) + ")");
    }
    ~advisory_lock() {
        try {
            pqxx::nontransaction(conn).exec("SELECT pg_advisory_unlock(" +
                                            std::to_string(k_migration_lock) + ")");
        } catch (...) {
            // The session lock dies with the connection anyway.
        }
    }
    pqxx::connection& conn;
};

}  // namespace

migration_report apply_migrations(pqxx::connection& conn, const std::vector<migration>& all) {
    advisory_lock lock(conn);
    ensure_table(conn);
    const auto done = recorded(conn);

    std::map<int, const migration*> known;
    for (const auto& m : all) known[m.version] = &m;
    for (const auto& [version, entry] : done) {
        auto it = known.find(version);
        if (it == known.end()) {
            throw migration_conflict("database has migration " + std::to_string(version) + " (" +
                                     entry.first +
                                     ") that this coordinator does not know: is it older than the "
                                     "one that migrated the database?");
        }
        if (secrets::sha256_hex(it->second->sql) != entry.second) {
            throw migration_conflict("migration " + std::to_string(version) + " (" + entry.first +
                                     ") was changed after it was applied; add a new migration "
                                     "instead of editing an applied one");
        }
    }

    migration_report report;
    for (const auto& m : all) {
        if (done.contains(m.version)) {
            ++report.already_applied;
            continue;
        }
        pqxx::work tx(conn);
        tx.exec(m.sql);
        tx.exec_params(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            m.version, m.name, secrets::sha256_hex(m.sql));
        tx.commit();
        ++report.applied_now;
        log::info("migration applied", {{"version", m.version}, {"name", m.name}});
    }
    return report;
}

int count_applied(pqxx::connection& conn, const std::vector<migration>& all) {
    pqxx::read_transaction tx(conn);
    auto exists = tx.exec("SELECT to_regclass('schema_migrations') IS NOT NULL")[0][0].as<bool>();
    if (!exists) return 0;
    std::string versions = "{";
    for (const auto& m : all)
        versions += (versions.size() > 1 ? "," : "") + std::to_string(m.version);
    versions += "}";
    return tx
        .exec_params("SELECT count(*) FROM schema_migrations WHERE version = ANY($1::int[])",
                     versions)[0][0]
        .as<int>();
}

}  // namespace vpsfleet::store
