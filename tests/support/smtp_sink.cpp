#include "tests/support/smtp_sink.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>

namespace vpsfleet::testing {
namespace {

constexpr std::size_t k_max_buffered = 16 * 1024 * 1024;

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && lower(s.substr(0, prefix.size())) == lower(prefix);
}

// "FROM:<a@b> SIZE=1" -> "a@b"
std::string path_argument(std::string_view args) {
    const auto open = args.find('<');
    const auto close = args.find('>', open);
    if (open == std::string_view::npos || close == std::string_view::npos) {
        const auto colon = args.find(':');
        auto rest = colon == std::string_view::npos ? args : args.substr(colon + 1);
        return std::string(rest.substr(0, rest.find(' ')));
    }
    return std::string(args.substr(open + 1, close - open - 1));
}

class line_reader {
  public:
    explicit line_reader(int fd) : fd_(fd) {}

    // One line without its CRLF; nullopt when the peer is gone (or sent far too much).
    std::optional<std::string> next() {
        for (;;) {
            const auto end = buffer_.find("\r\n");
            if (end != std::string::npos) {
                std::string line = buffer_.substr(0, end);
                buffer_.erase(0, end + 2);
                return line;
            }
            if (buffer_.size() > k_max_buffered) return std::nullopt;
            char chunk[4096];
            const ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) return std::nullopt;
            buffer_.append(chunk, static_cast<std::size_t>(n));
        }
    }

  private:
    int fd_;
    std::string buffer_;
};

void reply(int fd, std::string_view text) {
    std::size_t sent = 0;
    while (sent < text.size()) {
        const ssize_t n = send(fd, text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;
        sent += static_cast<std::size_t>(n);
    }
}

}  // namespace

std::string smtp_message::header(std::string_view name) const {
    const auto headers_end = data.find("\r\n\r\n");
    const std::string headers = data.substr(0, headers_end) + "\r\n";
    std::size_t pos = 0;
    while (pos < headers.size()) {
        auto end = headers.find("\r\n", pos);
        // Folded continuation lines belong to the header above them.
        while (end + 2 < headers.size() && (headers[end + 2] == ' ' || headers[end + 2] == '\t')) {
            end = headers.find("\r\n", end + 2);
        }
        std::string line = headers.substr(pos, end - pos);
        pos = end + 2;
        const auto colon = line.find(':');
        if (colon == std::string::npos || lower(line.substr(0, colon)) != lower(name)) continue;
        std::string value;
        for (std::size_t i = colon + 1; i < line.size(); ++i) {
            if (line[i] == '\r' || line[i] == '\n') continue;
            value += line[i];
        }
        value.erase(0, value.find_first_not_of(" \t"));
        return value;
    }
    return "";
}

std::string smtp_message::body() const {
    const auto headers_end = data.find("\r\n\r\n");
    return headers_end == std::string::npos ? "" : data.substr(headers_end + 4);
}

smtp_sink::smtp_sink() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) throw std::runtime_error("smtp_sink: socket failed");
    const int one = 1;
    setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(listen_fd_, 64) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        close(listen_fd_);
        throw std::runtime_error(std::string("smtp_sink: cannot listen: ") + std::strerror(errno));
    }
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
}

smtp_sink::~smtp_sink() { stop(); }

std::string smtp_sink::url() const { return "smtp://127.0.0.1:" + std::to_string(port_); }

void smtp_sink::set_failure(smtp_failure f) {
    std::lock_guard lock(mutex_);
    failure_ = f;
}

std::vector<smtp_message> smtp_sink::messages() const {
    std::lock_guard lock(mutex_);
    return messages_;
}

std::size_t smtp_sink::connections() const {
    std::lock_guard lock(mutex_);
    return connections_;
}

bool smtp_sink::wait_for_messages(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mutex_);
    return received_.wait_for(lock, timeout, [&] { return messages_.size() >= n; });
}

void smtp_sink::stop() {
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        stopping_ = true;
        for (int fd : open_fds_) shutdown(fd, SHUT_RDWR);
    }
    // Wakes the blocked accept() (Linux returns EINVAL for a shut-down listening socket).
    shutdown(listen_fd_, SHUT_RDWR);
    if (acceptor_.joinable()) acceptor_.join();
    for (auto& t : sessions_) t.join();
    close(listen_fd_);
}

void smtp_sink::accept_loop() {
    for (;;) {
        const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            return;
        }
        std::lock_guard lock(mutex_);
        ++connections_;
        if (stopping_ || failure_ == smtp_failure::close_at_once) {
            close(fd);
            if (stopping_) return;
            continue;
        }
        open_fds_.push_back(fd);
        sessions_.emplace_back([this, fd] { serve(fd); });
    }
}

void smtp_sink::serve(int fd) {
    const auto failure = [this] {
        std::lock_guard lock(mutex_);
        return failure_;
    };
    line_reader in(fd);
    if (failure() == smtp_failure::stall) {
        while (in.next()) {
        }
    } else {
        reply(fd, "220 127.0.0.1 vpsfleet test sink ESMTP\r\n");
    }
    std::optional<std::string> from;
    std::vector<std::string> to;
    while (auto line = in.next()) {
        const std::string verb = lower(line->substr(0, line->find(' ')));
        if (verb == "ehlo") {
            from.reset();
            to.clear();
            reply(fd, "250-127.0.0.1 hello\r\n250-8BITMIME\r\n250 SIZE 16777216\r\n");
        } else if (verb == "helo") {
            from.reset();
            to.clear();
            reply(fd, "250 127.0.0.1 hello\r\n");
        } else if (starts_with_nocase(*line, "MAIL FROM:")) {
            from = path_argument(std::string_view(*line).substr(10));
            to.clear();
            reply(fd, "250 2.1.0 sender ok\r\n");
        } else if (starts_with_nocase(*line, "RCPT TO:")) {
            if (!from) {
                reply(fd, "503 5.5.1 MAIL first\r\n");
            } else if (failure() == smtp_failure::reject_recipient) {
                reply(fd, "550 5.1.1 mailbox unavailable\r\n");
            } else {
                to.push_back(path_argument(std::string_view(*line).substr(8)));
                reply(fd, "250 2.1.5 recipient ok\r\n");
            }
        } else if (verb == "data") {
            if (to.empty()) {
                reply(fd, "503 5.5.1 RCPT first\r\n");
                continue;
            }
            reply(fd, "354 end data with <CR><LF>.<CR><LF>\r\n");
            std::string data;
            bool complete = false;
            while (auto data_line = in.next()) {
                if (*data_line == ".") {
                    complete = true;
                    break;
                }
                // RFC 5321 4.5.2: a leading dot was doubled by the client.
                if (!data_line->empty() && data_line->front() == '.') data_line->erase(0, 1);
                data += *data_line + "\r\n";
            }
            if (!complete) break;
            if (failure() == smtp_failure::reject_data) {
                reply(fd, "554 5.6.0 message rejected\r\n");
            } else {
                {
                    std::lock_guard lock(mutex_);
                    messages_.push_back({*from, to, std::move(data)});
                }
                received_.notify_all();
                reply(fd, "250 2.0.0 queued\r\n");
            }
            from.reset();
            to.clear();
        } else if (verb == "rset") {
            from.reset();
            to.clear();
            reply(fd, "250 2.0.0 ok\r\n");
        } else if (verb == "noop") {
            reply(fd, "250 2.0.0 ok\r\n");
        } else if (verb == "quit") {
            reply(fd, "221 2.0.0 bye\r\n");
            break;
        } else {
            reply(fd, "502 5.5.2 command not implemented\r\n");
        }
    }
    std::lock_guard lock(mutex_);
    open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
    close(fd);
}

}  // namespace vpsfleet::testing
