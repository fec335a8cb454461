// Both daemons under a stand-in for systemd: a notification socket (NOTIFY_SOCKET) and a watchdog
// interval (WATCHDOG_USEC), as a Type=notify unit with WatchdogSec= gives them. READY=1 must wait
// for what the units promise (coordinator: listeners bound and schema migrated; agent: the
// hypervisor answered), the watchdog is pinged while the event loop runs, and STOPPING=1 precedes
// a clean exit.
#include "tests/integration/daemon_fixture.hpp"
#include "tests/support/throwaway_postgres.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

using namespace vpsfleet::testing;
using namespace std::chrono_literals;

namespace {

// systemd's end of sd_notify: a datagram socket that collects what the daemon says.
class notify_socket {
  public:
    notify_socket() : path_(dir_.path() + "/notify") {
        fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
        if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
            throw std::runtime_error("cannot bind " + path_);
        }
    }
    ~notify_socket() { close(fd_); }
    const std::string& path() const { return path_; }

    // Reads messages until one contains `needle`, or the timeout passes.
    bool wait_for(const std::string& needle, std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            drain();
            if (count(needle) > 0) return true;
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            pollfd p{fd_, POLLIN, 0};
            poll(&p, 1, static_cast<int>(left.count()));
        }
    }
    // Takes in whatever has arrived.
    void drain() {
        char buf[4096];
        ssize_t n;
        while ((n = recv(fd_, buf, sizeof buf, MSG_DONTWAIT)) > 0) {
            messages.emplace_back(buf, static_cast<std::size_t>(n));
        }
    }
    int count(const std::string& needle) const {
        return static_cast<int>(std::count_if(
            messages.begin(), messages.end(),
            [&](const std::string& m) { return m.find(needle) != std::string::npos; }));
    }

    std::vector<std::string> messages;

  private:
    temp_dir dir_;
    std::string path_;
    int fd_ = -1;
};

// The daemon started as systemd would start a unit with WatchdogSec=0.4s.
std::unique_ptr<child_process> start_supervised(const std::string& binary,
                                                const std::string& config,
                                                const notify_socket& sock) {
    auto child = std::make_unique<child_process>(std::vector<std::string>{
        "env", "NOTIFY_SOCKET=" + sock.path(), "WATCHDOG_USEC=400000", binary, "--config", config});
    if (!child->wait_for_line("\"msg\":\"listening\"", 20s)) {
        throw std::runtime_error(binary + " did not start:\n" + child->collected_stderr());
    }
    return child;
}

std::uint16_t listening_port(const child_process& child) {
    const auto text = child.collected_stderr();
    const auto at = text.find("\"addr\":\"127.0.0.1:") + 18;
    return static_cast<std::uint16_t>(std::stoi(text.substr(at)));
}

}  // namespace

TEST(systemd_notify, coordinator_is_ready_once_migrated_and_pings_the_watchdog_meanwhile) {
    temp_dir state;
    const std::string common =
        "http:\n  listen: 127.0.0.1:0\nfleet:\n  listen: 127.0.0.1:0\n"
        "  state_dir: " +
        state.path() + "\ndatabase:\n  url: \"";
    {
        // PostgreSQL unreachable: serving /healthz, retrying migrations, not ready.
        notify_socket sock;
        temp_file config(common + "postgresql://127.0.0.1:" + std::to_string(free_tcp_port()) +
                         "/none?connect_timeout=1\"\n");
        auto child = start_supervised(coordinator_bin(), config.path(), sock);
        EXPECT_TRUE(sock.wait_for("WATCHDOG=1", 2s)) << child->collected_stderr();
        EXPECT_FALSE(sock.wait_for("READY=1", 1s)) << "ready without a database";
        EXPECT_GE(sock.count("WATCHDOG=1"), 3) << "pinged at half of the 400 ms interval";
        child->signal(SIGTERM);
        EXPECT_EQ(child->wait_exit(5s), 0) << child->collected_stderr();
        EXPECT_TRUE(sock.wait_for("STOPPING=1", 1s));
    }
    notify_socket sock;
    temp_file config(common + fresh_database() + "\"\n");
    auto child = start_supervised(coordinator_bin(), config.path(), sock);
    ASSERT_TRUE(sock.wait_for("READY=1", 20s)) << child->collected_stderr();
    EXPECT_EQ(http_get("127.0.0.1", listening_port(*child), "/readyz").status, 200)
        << "READY=1 only once /readyz would say ready";
    const int pings = sock.count("WATCHDOG=1");
    EXPECT_TRUE(sock.wait_for("STATUS=serving", 0s));
    std::this_thread::sleep_for(500ms);
    sock.drain();
    EXPECT_GE(sock.count("WATCHDOG=1"), pings + 1) << "pings go on after READY=1";
    EXPECT_EQ(sock.count("READY=1"), 1);
    child->signal(SIGTERM);
    EXPECT_EQ(child->wait_exit(5s), 0);
    EXPECT_TRUE(sock.wait_for("STOPPING=1", 1s));
}

TEST(systemd_notify, agent_is_ready_once_its_hypervisor_answers) {
    {
        notify_socket sock;
        temp_file config(
            "metrics:\n  listen: 127.0.0.1:0\nhypervisor:\n  libvirt_uri: "
            "\"test:///nonexistent/host.xml\"\ncollector:\n  interval: 100ms\n");
        auto child = start_supervised(agent_bin(), config.path(), sock);
        EXPECT_TRUE(sock.wait_for("WATCHDOG=1", 2s)) << child->collected_stderr();
        EXPECT_FALSE(sock.wait_for("READY=1", 1s)) << "ready without a hypervisor";
        child->signal(SIGTERM);
        EXPECT_EQ(child->wait_exit(5s), 0);
    }
    notify_socket sock;
    temp_file config(
        "metrics:\n  listen: 127.0.0.1:0\nhypervisor:\n  libvirt_uri: \"test:///default\"\n"
        "collector:\n  interval: 100ms\n");
    auto child = start_supervised(agent_bin(), config.path(), sock);
    ASSERT_TRUE(sock.wait_for("READY=1", 10s)) << child->collected_stderr();
    EXPECT_TRUE(sock.wait_for("STATUS=hypervisor connected", 0s));
    EXPECT_TRUE(child->wait_for_line("hypervisor connected", 1s).has_value());
    child->signal(SIGTERM);
    EXPECT_EQ(child->wait_exit(5s), 0);
    EXPECT_TRUE(sock.wait_for("STOPPING=1", 1s));
}
