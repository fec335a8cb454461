#include "tests/support/throwaway_postgres.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <pqxx/pqxx>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <thread>

namespace vpsfleet::testing {
namespace fs = std::filesystem;

namespace {

constexpr const char* k_pg_user = "postgres";

bool running_as_root() { return geteuid() == 0; }

void give_to_postgres_user(const std::string& path) {
    if (!running_as_root()) return;
    const passwd* pw = getpwnam(k_pg_user);
    if (pw == nullptr)
        throw std::runtime_error("user 'postgres' does not exist: install postgresql");
    if (chown(path.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
        throw std::runtime_error("cannot chown " + path);
    }
}

spawn_options as_postgres(std::string stderr_file = {}) {
    spawn_options o;
    if (running_as_root()) o.user = k_pg_user;
    o.stderr_file = std::move(stderr_file);
    // SIGQUIT is PostgreSQL's immediate shutdown: the postmaster takes its backends down with it.
    o.death_signal = SIGQUIT;
    return o;
}

// Holds an exclusive flock on a file while alive.
class file_lock {
  public:
    explicit file_lock(const std::string& path) : fd_(open(path.c_str(), O_CREAT | O_RDWR, 0644)) {
        if (fd_ < 0 || flock(fd_, LOCK_EX) != 0) throw std::runtime_error("cannot lock " + path);
    }
    ~file_lock() { close(fd_); }
    file_lock(const file_lock&) = delete;
    file_lock& operator=(const file_lock&) = delete;

  private:
    int fd_;
};

void initdb(const std::string& bin_dir, const std::string& data_dir) {
    give_to_postgres_user(data_dir);
    const auto result =
        run_command({bin_dir + "/initdb", "-D", data_dir, "-U", k_pg_user, "--auth=trust",
                     "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"},
                    as_postgres());
    if (result.status != 0) throw std::runtime_error("initdb failed:\n" + result.output);
}

// A freshly initialised cluster to copy, made once per $TMPDIR (scripts/test gives each run its
// own): initdb takes over a second of a 2-core machine, and every test process starts a cluster.
// Built under a lock, so tests starting together wait for the first instead of racing it.
std::string cluster_template(const std::string& bin_dir) {
    const char* tmp = std::getenv("TMPDIR");
    const std::string dir = std::string(tmp ? tmp : "/tmp") + "/vpsfleet-pg-template-" +
                            fs::path(bin_dir).parent_path().filename().string();
    const file_lock lock(dir + ".lock");
    if (fs::exists(fs::path(dir) / "PG_VERSION")) return dir;
    const std::string building = dir + ".building";
    fs::remove_all(building);
    fs::create_directories(building);
    initdb(bin_dir, building);
    fs::rename(building, dir);
    return dir;
}

}  // namespace

std::string postgres_bin_dir() {
    if (const char* env = std::getenv("VPSFLEET_PG_BINDIR")) return env;
    std::string best;
    int best_version = 0;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
        const int version = std::atoi(entry.path().filename().c_str());
        if (version > best_version && fs::exists(entry.path() / "bin" / "postgres")) {
            best_version = version;
            best = (entry.path() / "bin").string();
        }
    }
    if (best.empty()) throw std::runtime_error("no PostgreSQL server under /usr/lib/postgresql");
    return best;
}

std::uint16_t free_tcp_port() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        close(fd);
        throw std::runtime_error("cannot find a free port");
    }
    close(fd);
    return ntohs(addr.sin_port);
}

throwaway_postgres::throwaway_postgres(postgres_options options)
    : options_(std::move(options)), bin_dir_(postgres_bin_dir()) {
    if (options_.data_dir.empty()) {
        const char* tmp = std::getenv("TMPDIR");
        std::string pattern = std::string(tmp ? tmp : "/tmp") + "/vpsfleet-pg-XXXXXX";
        if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        data_dir_ = pattern;
        owns_dir_ = !options_.keep_data;
    } else {
        data_dir_ = fs::absolute(options_.data_dir).string();
        fs::create_directories(data_dir_);
    }
    port_ = options_.port != 0 ? options_.port : free_tcp_port();
    if (!fs::exists(fs::path(data_dir_) / "PG_VERSION")) init_cluster();
    start();
}

throwaway_postgres::~throwaway_postgres() {
    try {
        stop();
    } catch (...) {
    }
    if (owns_dir_) {
        std::error_code ec;
        fs::remove_all(data_dir_, ec);
    }
}

void throwaway_postgres::init_cluster() {
    give_to_postgres_user(data_dir_);
    const std::string from = cluster_template(bin_dir_);
    const auto result = run_command({"cp", "-a", from + "/.", data_dir_}, as_postgres());
    if (result.status != 0) throw std::runtime_error("cannot copy " + from + ":\n" + result.output);
}

void throwaway_postgres::start() {
    if (server_) return;
    std::vector<std::string> argv{bin_dir_ + "/postgres",
                                  "-D",
                                  data_dir_,
                                  "-p",
                                  std::to_string(port_),
                                  "-c",
                                  "listen_addresses=127.0.0.1",
                                  "-c",
                                  "unix_socket_directories=" + data_dir_,
                                  "-c",
                                  "max_connections=300",
                                  "-c",
                                  "log_min_messages=warning"};
    if (!options_.durable) {
        for (const char* setting :
             {"fsync=off", "synchronous_commit=off", "full_page_writes=off"}) {
            argv.insert(argv.end(), {"-c", setting});
        }
    }
    const std::string log_file = data_dir_ + "/server.log";
    server_ = std::make_unique<child_process>(argv, as_postgres(log_file));
    try {
        wait_until_accepting();
    } catch (...) {
        server_.reset();
        throw;
    }
}

void throwaway_postgres::stop() {
    if (!server_) return;
    server_->signal(SIGINT);  // fast shutdown: sessions are cut, data is kept
    if (!server_->wait_exit(std::chrono::seconds(20))) server_->signal(SIGKILL);
    server_.reset();
}

void throwaway_postgres::wait_until_accepting() const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    std::string last_error;
    while (std::chrono::steady_clock::now() < deadline) {
        if (server_->wait_exit(std::chrono::milliseconds(0))) {
            throw std::runtime_error("postgres exited at start; see " + data_dir_ + "/server.log");
        }
        std::optional<std::string> serving_dir;
        try {
            pqxx::connection conn(url());
            serving_dir =
                pqxx::nontransaction(conn).exec("SHOW data_directory")[0][0].as<std::string>();
        } catch (const std::exception& e) {
            last_error = e.what();
        }
        if (serving_dir) {
            // Another server on the same port must not pass for ours.
            if (fs::equivalent(*serving_dir, data_dir_)) return;
            throw std::runtime_error("port " + std::to_string(port_) +
                                     " is taken by another PostgreSQL serving " + *serving_dir);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    throw std::runtime_error("postgres did not accept connections within 30 s: " + last_error);
}

std::string throwaway_postgres::url(const std::string& dbname) const {
    return "host=127.0.0.1 port=" + std::to_string(port_) + " dbname=" + dbname +
           " user=" + k_pg_user;
}

std::string throwaway_postgres::create_database(const std::string& name) const {
    pqxx::connection conn(url());
    pqxx::nontransaction tx(conn);
    tx.exec("CREATE DATABASE " + tx.quote_name(name));
    return url(name);
}

}  // namespace vpsfleet::testing

namespace vpsfleet::testing {

throwaway_postgres& shared_postgres() {
    static throwaway_postgres pg;
    return pg;
}

std::string fresh_database() {
    static int counter = 0;
    return shared_postgres().create_database("test_" + std::to_string(getpid()) + "_" +
                                             std::to_string(++counter));
}

}  // namespace vpsfleet::testing
