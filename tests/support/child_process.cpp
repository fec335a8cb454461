#include "tests/support/child_process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace vpsfleet::testing {
namespace {

[[noreturn]] void exec_child(const std::vector<std::string>& argv, const spawn_options& options,
                             pid_t parent, int stderr_fd) {
    if (!options.user.empty() && geteuid() == 0) {
        const passwd* pw = getpwnam(options.user.c_str());
        if (pw == nullptr || setgroups(0, nullptr) != 0 || setgid(pw->pw_gid) != 0 ||
            setuid(pw->pw_uid) != 0) {
            _exit(126);
        }
    }
    // Set after any uid change: changing credentials clears the parent-death signal.
    prctl(PR_SET_PDEATHSIG, options.death_signal);
    if (getppid() != parent) _exit(125);
    dup2(stderr_fd, STDERR_FILENO);
    dup2(stderr_fd, STDOUT_FILENO);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::fprintf(stderr, "exec %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
}

int decode_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

}  // namespace

child_process::child_process(std::vector<std::string> argv, spawn_options options) {
    int fds[2] = {-1, -1};
    int out_fd = -1;
    if (options.stderr_file.empty()) {
        if (pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
        out_fd = fds[1];
    } else {
        out_fd = open(options.stderr_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (out_fd < 0) throw std::runtime_error("cannot open " + options.stderr_file);
    }
    const pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) exec_child(argv, options, parent, out_fd);
    close(out_fd);
    if (fds[0] >= 0) reader_ = std::thread([this, fd = fds[0]] { read_stderr(fd); });
}

child_process::~child_process() {
    if (!exit_status_) {
        ::kill(pid_, SIGKILL);
        wait_exit(std::chrono::seconds(10));
    }
    if (reader_.joinable()) reader_.join();
}

void child_process::read_stderr(int fd) {
    std::string partial;
    char buf[4096];
    for (;;) {
        const ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) break;
        partial.append(buf, static_cast<std::size_t>(n));
        std::size_t nl;
        while ((nl = partial.find('\n')) != std::string::npos) {
            std::lock_guard lock(mutex_);
            lines_.push_back(partial.substr(0, nl));
            partial.erase(0, nl + 1);
            changed_.notify_all();
        }
    }
    std::lock_guard lock(mutex_);
    if (!partial.empty()) lines_.push_back(partial);
    changed_.notify_all();
    close(fd);
}

void child_process::drain() {
    if (reader_.joinable()) reader_.join();
}

void child_process::signal(int signo) {
    if (!exit_status_) ::kill(pid_, signo);
}

std::optional<int> child_process::wait_exit(std::chrono::milliseconds timeout) {
    if (exit_status_) return exit_status_;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        int status = 0;
        const pid_t r = waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            exit_status_ = decode_status(status);
            return exit_status_;
        }
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

std::optional<std::string> child_process::wait_for_line(const std::string& needle,
                                                        std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    std::optional<std::string> found;
    changed_.wait_for(lock, timeout, [&] {
        for (const auto& line : lines_) {
            if (line.find(needle) != std::string::npos) {
                found = line;
                return true;
            }
        }
        return false;
    });
    return found;
}

std::string child_process::collected_stderr() const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& line : lines_) out += line + "\n";
    return out;
}

run_result run_command(const std::vector<std::string>& argv, const spawn_options& options) {
    child_process child(argv, options);
    run_result result;
    auto status = child.wait_exit(std::chrono::minutes(2));
    result.status = status.value_or(-1);
    child.drain();
    result.output = child.collected_stderr();
    return result;
}

}  // namespace vpsfleet::testing
