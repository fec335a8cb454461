#include "agent/driver/proxmox/proxmox_client.hpp"

#include "agent/link/tls_client.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <mutex>
#include <optional>
#include <thread>

namespace vpsfleet::agent::proxmox {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using driver::errc;
using driver::error;

namespace {

constexpr std::string_view k_api = "/api2/json";

struct wire_answer {
    unsigned status = 0;
    std::string reason;
    std::string body;
};

bool contains(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

// PVE says what went wrong only in words; these are the words its API uses.
errc classify(const std::string& message) {
    if (contains(message, "does not exist") || contains(message, "no such")) return errc::not_found;
    if (contains(message, "already exists") || contains(message, "already used"))
        return errc::name_clash;
    if (contains(message, "is running") || contains(message, "not running") ||
        contains(message, "already running") || contains(message, "is locked") ||
        contains(message, "template"))
        return errc::invalid_state;
    if (contains(message, "shrinking") || contains(message, "invalid format"))
        return errc::invalid_argument;
    if (contains(message, "timeout") || contains(message, "timed out")) return errc::timeout;
    if (contains(message, "not enough space") || contains(message, "No space left"))
        return errc::pool_full;
    return errc::failed;
}

std::string form(const pve_params& params) {
    std::string out;
    for (const auto& [key, value] : params) {
        if (!out.empty()) out += '&';
        out += url_encode(key) + "=" + url_encode(value);
    }
    return out;
}

}  // namespace

std::string url_encode(const std::string& text) {
    static constexpr char digits[] = "0123456789ABCDEF";
    std::string out;
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += ch;
        } else {
            out += '%';
            out += digits[c >> 4];
            out += digits[c & 0xf];
        }
    }
    return out;
}

struct proxmox_client::impl {
    proxmox_options options;
    std::string host;
    std::string port = "8006";
    asio::ssl::context tls{asio::ssl::context::tls_client};
    std::mutex mutex;  // guards the ticket
    std::string ticket;
    std::string csrf;
    task_progress progress;

    result<wire_answer> exchange(http::verb method, const std::string& target,
                                 const std::string& body, bool write);
    result<json> call(http::verb method, const std::string& path, const pve_params& params);
    result<void> login();
};

namespace {

asio::awaitable<void> do_exchange(asio::ssl::context& tls, const std::string& host,
                                  const std::string& port, http::request<http::string_body> req,
                                  std::chrono::milliseconds timeout,
                                  http::response<http::string_body>& res) {
    const auto executor = co_await asio::this_coro::executor;
    tcp::resolver resolver(executor);
    beast::ssl_stream<beast::tcp_stream> stream(executor, tls);
    link::expect_server(stream.native_handle(), host);
    auto& socket = beast::get_lowest_layer(stream);
    socket.expires_after(timeout);
    const auto endpoints = co_await resolver.async_resolve(host, port, asio::use_awaitable);
    co_await socket.async_connect(endpoints, asio::use_awaitable);
    co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
    co_await http::async_write(stream, req, asio::use_awaitable);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 * 1024 * 1024);
    co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
    res = parser.release();
    beast::error_code ignored;
    socket.socket().shutdown(tcp::socket::shutdown_both, ignored);
}

}  // namespace

result<wire_answer> proxmox_client::impl::exchange(http::verb method, const std::string& target,
                                                   const std::string& body, bool write) {
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, host);
    req.set(http::field::user_agent, "vpsfleet-agent");
    req.set(http::field::accept, "application/json");
    req.keep_alive(false);
    if (!options.token_id.empty()) {
        req.set(http::field::authorization,
                "PVEAPIToken=" + options.token_id + "=" + options.token_secret);
    } else {
        std::lock_guard lock(mutex);
        if (!ticket.empty()) {
            req.set(http::field::cookie, "PVEAuthCookie=" + url_encode(ticket));
            if (write) req.set("CSRFPreventionToken", csrf);
        }
    }
    if (!body.empty()) {
        req.set(http::field::content_type, "application/x-www-form-urlencoded");
        req.body() = body;
    }
    req.prepare_payload();

    asio::io_context io;
    http::response<http::string_body> res;
    std::exception_ptr failure;
    asio::co_spawn(io, do_exchange(tls, host, port, std::move(req), options.request_timeout, res),
                   [&](std::exception_ptr e) { failure = e; });
    io.run();
    if (failure) {
        std::string why;
        try {
            std::rethrow_exception(failure);
        } catch (const boost::system::system_error& e) {
            why = e.code() == beast::error::timeout ? "no answer in time" : e.code().message();
        } catch (const std::exception& e) {
            why = e.what();
        }
        return error{errc::unavailable, "Proxmox VE at " + options.url + ": " + why};
    }
    return wire_answer{res.result_int(), std::string(res.reason()), std::move(res.body())};
}

result<void> proxmox_client::impl::login() {
    const std::string body = form({{"username", options.user}, {"password", options.password}});
    auto answer = exchange(http::verb::post, std::string(k_api) + "/access/ticket", body, false);
    if (!answer) return answer.error();
    if (answer->status != 200) {
        return error{errc::unavailable, "Proxmox VE login as " + options.user + ": " +
                                            std::to_string(answer->status) + " " + answer->reason};
    }
    const json parsed = json::parse(answer->body, nullptr, false);
    const json data = parsed.is_object() ? parsed.value("data", json()) : json();
    if (!data.is_object() || !data.contains("ticket") || !data.contains("CSRFPreventionToken")) {
        return error{errc::failed, "Proxmox VE login: no ticket in the answer"};
    }
    std::lock_guard lock(mutex);
    ticket = data["ticket"].get<std::string>();
    csrf = data["CSRFPreventionToken"].get<std::string>();
    return {};
}

result<json> proxmox_client::impl::call(http::verb method, const std::string& path,
                                        const pve_params& params) {
    const bool write = method != http::verb::get;
    const bool query = method == http::verb::get || method == http::verb::delete_;
    std::string target = std::string(k_api) + path;
    std::string body;
    if (query && !params.empty()) {
        target += "?" + form(params);
    } else if (!query) {
        body = form(params);
    }
    const bool tickets = options.token_id.empty();
    bool fresh_login = false;
    if (tickets) {
        bool have;
        {
            std::lock_guard lock(mutex);
            have = !ticket.empty();
        }
        if (!have) {
            if (auto r = login(); !r) return r.error();
            fresh_login = true;
        }
    }
    auto answer = exchange(method, target, body, write);
    if (answer && answer->status == 401 && tickets && !fresh_login) {
        // Tickets last two hours: log in again once.
        if (auto r = login(); !r) return r.error();
        answer = exchange(method, target, body, write);
    }
    if (!answer) return answer.error();
    const std::string what = std::string(http::to_string(method)) + " " + path;
    const json parsed = json::parse(answer->body, nullptr, false);
    if (answer->status == 200) {
        if (!parsed.is_object()) {
            return error{errc::failed, "Proxmox VE " + what + ": the answer is not JSON"};
        }
        return parsed.value("data", json());
    }
    std::string message = answer->reason;
    if (parsed.is_object() && parsed.contains("errors") && parsed["errors"].is_object()) {
        for (const auto& [key, why] : parsed["errors"].items()) {
            message += " " + key + ": " + (why.is_string() ? why.get<std::string>() : why.dump());
            message += ";";
        }
        if (message.ends_with(";")) message.pop_back();
    }
    const std::string text =
        "Proxmox VE " + what + ": " + std::to_string(answer->status) + " " + message;
    switch (answer->status) {
        case 400:
            return error{errc::invalid_argument, text};
        case 401:
        case 403:
            return error{errc::unavailable, text + " (check the configured token or user)"};
        case 501:
            return error{errc::unsupported, text};
        case 595:
        case 596:
            return error{errc::unavailable, text};
        default:
            return error{classify(message), text};
    }
}

proxmox_client::proxmox_client(proxmox_options options) : impl_(std::make_unique<impl>()) {
    impl& s = *impl_;
    s.options = std::move(options);
    std::string rest = s.options.url;
    if (rest.starts_with("https://")) rest = rest.substr(8);
    rest = rest.substr(0, rest.find('/'));
    if (rest.starts_with("[")) {
        const auto close = rest.find(']');
        s.host = rest.substr(1, close - 1);
        if (close + 1 < rest.size() && rest[close + 1] == ':') s.port = rest.substr(close + 2);
    } else {
        const auto colon = rest.rfind(':');
        s.host = rest.substr(0, colon);
        if (colon != std::string::npos) s.port = rest.substr(colon + 1);
    }
    SSL_CTX_set_min_proto_version(s.tls.native_handle(), TLS1_2_VERSION);
    s.tls.set_verify_mode(asio::ssl::verify_peer);
    if (s.options.ca_pem.empty()) {
        s.tls.set_default_verify_paths();
    } else {
        s.tls.add_certificate_authority(asio::buffer(s.options.ca_pem));
    }
}

proxmox_client::~proxmox_client() = default;

const proxmox_options& proxmox_client::options() const { return impl_->options; }
std::string proxmox_client::host() const { return impl_->host; }

result<json> proxmox_client::get(const std::string& path, const pve_params& params) {
    return impl_->call(http::verb::get, path, params);
}
result<json> proxmox_client::post(const std::string& path, const pve_params& params) {
    return impl_->call(http::verb::post, path, params);
}
result<json> proxmox_client::put(const std::string& path, const pve_params& params) {
    return impl_->call(http::verb::put, path, params);
}
result<json> proxmox_client::del(const std::string& path, const pve_params& params) {
    return impl_->call(http::verb::delete_, path, params);
}

void proxmox_client::on_progress(task_progress progress) { impl_->progress = std::move(progress); }

result<void> proxmox_client::wait_task(const std::string& upid, std::chrono::milliseconds timeout) {
    if (!upid.starts_with("UPID:")) {
        return error{errc::failed, "Proxmox VE answered '" + upid + "' where a task was expected"};
    }
    // UPID:node:pid:pstart:starttime:type:id:user: -- the task runs on its node.
    const auto node_end = upid.find(':', 5);
    const std::string node = upid.substr(5, node_end - 5);
    const auto& o = impl_->options;
    const auto deadline =
        std::chrono::steady_clock::now() + (timeout.count() ? timeout : o.task_timeout);
    const std::string path = "/nodes/" + node + "/tasks/" + url_encode(upid) + "/status";
    int transport_failures = 0;
    for (;;) {
        auto status = get(path);
        if (!status) {
            // One lost poll is tolerated; a node that stays away is an error, not a hang.
            if (status.error().code == errc::unavailable && ++transport_failures < 3 &&
                std::chrono::steady_clock::now() < deadline) {
                std::this_thread::sleep_for(o.task_poll);
                continue;
            }
            return error{status.error().code,
                         "lost track of task " + upid + ": " + status.error().message};
        }
        transport_failures = 0;
        const std::string state = status->value("status", "");
        if (impl_->progress) impl_->progress(upid, state);
        if (state == "stopped") {
            const std::string exit = status->value("exitstatus", "");
            if (exit == "OK") return {};
            // "WARNINGS: n" still means done.
            if (exit.starts_with("WARNINGS")) return {};
            return error{classify(exit), "Proxmox VE task " + upid + " failed: " + exit};
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            return error{errc::timeout,
                         "Proxmox VE task " + upid + " still running after " +
                             std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                timeout.count() ? timeout : o.task_timeout)
                                                .count()) +
                             " s"};
        }
        std::this_thread::sleep_for(o.task_poll);
    }
}

result<void> proxmox_client::run(result<json> upid, std::chrono::milliseconds timeout) {
    if (!upid) return upid.error();
    if (!upid->is_string()) return error{errc::failed, "Proxmox VE answered no task"};
    return wait_task(upid->get<std::string>(), timeout);
}

}  // namespace vpsfleet::agent::proxmox
