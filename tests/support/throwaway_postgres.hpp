#pragma once
// A throwaway PostgreSQL cluster for tests and the local fleet: initdb into a fresh directory, a
// free port on 127.0.0.1, run as the postgres user when started as root, durability off, and
// always torn down: by the destructor, or by the kernel's parent-death signal if the owner crashes.
#include "tests/support/child_process.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace vpsfleet::testing {

struct postgres_options {
    // Where the cluster lives; empty makes a new directory under $TMPDIR (removed at the end).
    std::string data_dir;
    std::uint16_t port = 0;  // 0: pick a free one
    bool durable = false;    // false: fsync, full_page_writes and synchronous_commit off
    bool keep_data = false;  // keep data_dir after stop (the local fleet reuses its data)
};

class throwaway_postgres {
  public:
    explicit throwaway_postgres(postgres_options options = {});
    ~throwaway_postgres();

    std::uint16_t port() const { return port_; }
    // libpq connection string for a database (default: postgres).
    std::string url(const std::string& dbname = "postgres") const;
    // Creates a new empty database and returns its connection string.
    std::string create_database(const std::string& name) const;

    // Fast shutdown, as an operator's `systemctl stop postgresql` would do.
    void stop();
    // Starts it again on the same port and data.
    void start();
    bool running() const { return server_ != nullptr; }

  private:
    void init_cluster();
    void wait_until_accepting() const;

    postgres_options options_;
    std::string bin_dir_;
    std::string data_dir_;
    bool owns_dir_ = false;
    std::uint16_t port_ = 0;
    std::unique_ptr<child_process> server_;
};

// The PostgreSQL server binaries directory (newest /usr/lib/postgresql/N/bin, or
// $VPSFLEET_PG_BINDIR).
std::string postgres_bin_dir();
std::uint16_t free_tcp_port();

}  // namespace vpsfleet::testing

namespace vpsfleet::testing {

// One cluster per test binary, started on first use and stopped at exit.
throwaway_postgres& shared_postgres();
// A new, empty database on the shared cluster, so tests never see each other's rows.
std::string fresh_database();

}  // namespace vpsfleet::testing
