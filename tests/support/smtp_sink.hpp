#pragma once
// A real SMTP server for tests on 127.0.0.1 (a free port): enough of RFC 5321 for a mail client
// (EHLO/HELO, MAIL FROM, RCPT TO, DATA with dot-unstuffing, RSET, NOOP, QUIT), one thread per
// connection, every accepted message recorded. It can be told to fail, to test a client's error
// paths; it never offers STARTTLS or AUTH.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace vpsfleet::testing {

struct smtp_message {
    std::string from;             // MAIL FROM address, without the angle brackets
    std::vector<std::string> to;  // RCPT TO addresses
    std::string data;             // the message as sent, dot-unstuffed, CRLF line ends

    // The value of the first header with this name (case-insensitive), unfolded; "" if none.
    std::string header(std::string_view name) const;
    // Everything after the blank line that ends the headers.
    std::string body() const;
};

enum class smtp_failure {
    none,
    reject_recipient,  // 550 to every RCPT TO
    reject_data,       // 554 after the message has been sent
    close_at_once,     // accept the TCP connection and close it without a greeting
    stall,             // accept the TCP connection and never say a word
};

class smtp_sink {
  public:
    smtp_sink();
    ~smtp_sink();
    smtp_sink(const smtp_sink&) = delete;
    smtp_sink& operator=(const smtp_sink&) = delete;

    std::uint16_t port() const { return port_; }
    std::string url() const;  // smtp://127.0.0.1:PORT

    void set_failure(smtp_failure f);
    std::vector<smtp_message> messages() const;
    std::size_t connections() const;
    // True once at least n messages have been accepted; false after the timeout.
    bool wait_for_messages(std::size_t n,
                           std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

    void stop();

  private:
    void accept_loop();
    void serve(int fd);

    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    mutable std::mutex mutex_;
    mutable std::condition_variable received_;
    smtp_failure failure_ = smtp_failure::none;
    std::vector<smtp_message> messages_;
    std::vector<int> open_fds_;
    std::vector<std::thread> sessions_;
    std::size_t connections_ = 0;
    bool stopping_ = false;
    std::thread acceptor_;
};

}  // namespace vpsfleet::testing
