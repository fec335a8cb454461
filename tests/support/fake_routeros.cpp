#include "tests/support/fake_routeros.hpp"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <optional>
#include <thread>

namespace vpsfleet::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using request = http::request<http::string_body>;
using response = http::response<http::string_body>;

namespace {

constexpr std::string_view k_menu = "/rest/ip/arp";
constexpr std::chrono::seconds k_io_timeout{10};

std::string base64(std::string_view data) {
    std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(data.data()),
                                  static_cast<int>(data.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

response json_answer(http::status status, const json& body) {
    response res{status, 11};
    res.set(http::field::server, "fake RouterOS");
    res.set(http::field::content_type, "application/json");
    res.body() = body.dump();
    return res;
}

// RouterOS's error shape: {"error":400,"message":"Bad Request","detail":"..."}.
response error_answer(http::status status, const std::string& detail = {}) {
    json body = {{"error", static_cast<int>(status)},
                 {"message", std::string(http::obsolete_reason(status))}};
    if (!detail.empty()) body["detail"] = detail;
    return json_answer(status, body);
}

std::optional<std::string> upper_mac(std::string_view s) {
    if (s.size() != 17) return std::nullopt;
    std::string out(s);
    for (std::size_t i = 0; i < out.size(); ++i) {
        const auto c = static_cast<unsigned char>(out[i]);
        if (i % 3 == 2 ? c != ':' : !std::isxdigit(c)) return std::nullopt;
        out[i] = static_cast<char>(std::toupper(c));
    }
    return out;
}

json row_json(const fake_arp_row& row) {
    json out = {{".id", row.id},
                {"DHCP", "false"},
                {"address", row.address},
                {"complete", "true"},
                {"disabled", "false"},
                {"dynamic", "false"},
                {"interface", row.interface},
                {"invalid", "false"},
                {"mac-address", row.mac_address},
                {"published", "false"},
                {"status", "permanent"}};
    if (!row.comment.empty()) out["comment"] = row.comment;
    return out;
}

}  // namespace

struct fake_routeros::impl {
    fake_routeros_options options;
    std::string expected_authorization;
    std::optional<asio::ssl::context> tls;
    // Declared after `tls` and before the acceptor: destroying the io_context destroys the
    // suspended sessions, whose streams still use both.
    asio::io_context io;
    tcp::acceptor acceptor{io};
    std::uint16_t port = 0;
    std::thread thread;

    mutable std::mutex mutex;
    std::vector<fake_arp_row> table;
    unsigned next_id = 1;
    fake_routeros_calls calls;
    std::chrono::milliseconds delay{0};

    asio::awaitable<void> accept_loop();
    asio::awaitable<void> serve_plain(tcp::socket socket);
    asio::awaitable<void> serve_tls(tcp::socket socket);
    template <class Stream>
    asio::awaitable<void> exchange(Stream& stream);

    // Everything below runs under `mutex`.
    response handle(const request& req);
    response reject(http::status status, const std::string& detail);
    response add(const std::string& body);
    response set(fake_arp_row& row, const std::string& body);
    // Applies the fields of a PUT or PATCH body; RouterOS's complaint if one is wrong.
    std::optional<std::string> apply(fake_arp_row& row, const std::string& body);
};

asio::awaitable<void> fake_routeros::impl::accept_loop() {
    for (;;) {
        beast::error_code ec;
        tcp::socket socket =
            co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        if (ec) continue;
        if (tls) {
            asio::co_spawn(io, serve_tls(std::move(socket)), asio::detached);
        } else {
            asio::co_spawn(io, serve_plain(std::move(socket)), asio::detached);
        }
    }
}

asio::awaitable<void> fake_routeros::impl::serve_plain(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    co_await exchange(stream);
}

asio::awaitable<void> fake_routeros::impl::serve_tls(tcp::socket socket) {
    beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), *tls);
    beast::get_lowest_layer(stream).expires_after(k_io_timeout);
    beast::error_code ec;
    co_await stream.async_handshake(asio::ssl::stream_base::server,
                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return;  // e.g. the client did not trust our certificate
    co_await exchange(stream);
}

template <class Stream>
asio::awaitable<void> fake_routeros::impl::exchange(Stream& stream) {
    beast::flat_buffer buffer;
    for (;;) {
        request req;
        beast::error_code ec;
        beast::get_lowest_layer(stream).expires_after(k_io_timeout);
        co_await http::async_read(stream, buffer, req,
                                  asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        std::chrono::milliseconds wait;
        {
            std::lock_guard lock(mutex);
            wait = delay;
        }
        if (wait.count() > 0) {
            const auto executor = co_await asio::this_coro::executor;
            asio::steady_timer timer(executor, wait);
            co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
        }
        response res;
        {
            std::lock_guard lock(mutex);
            res = handle(req);
        }
        res.keep_alive(req.keep_alive());
        res.prepare_payload();
        beast::get_lowest_layer(stream).expires_after(k_io_timeout);
        co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
        if (ec || !res.keep_alive()) co_return;
    }
}

response fake_routeros::impl::reject(http::status status, const std::string& detail) {
    ++calls.rejected;
    return error_answer(status, detail);
}

response fake_routeros::impl::handle(const request& req) {
    if (req[http::field::authorization] != expected_authorization) {
        ++calls.unauthorized;
        response res = error_answer(http::status::unauthorized);
        res.set(http::field::www_authenticate, "Basic realm=\"RouterOS\"");
        return res;
    }
    const std::string_view target(req.target().data(), req.target().size());
    const std::string_view path = target.substr(0, target.find('?'));
    if (!path.starts_with(k_menu) || (path.size() > k_menu.size() && path[k_menu.size()] != '/')) {
        return reject(http::status::bad_request,
                      "no such command or directory (" + std::string(path) + ")");
    }
    const std::string id(path.size() > k_menu.size() ? path.substr(k_menu.size() + 1) : "");
    const auto row =
        std::find_if(table.begin(), table.end(), [&](const fake_arp_row& r) { return r.id == id; });

    switch (req.method()) {
        case http::verb::get:
            if (id.empty()) {
                ++calls.list;
                json rows = json::array();
                for (const auto& r : table) rows.push_back(row_json(r));
                return json_answer(http::status::ok, rows);
            }
            ++calls.get;
            if (row == table.end()) return reject(http::status::not_found, "");
            return json_answer(http::status::ok, row_json(*row));
        case http::verb::put:
            ++calls.add;
            if (!id.empty()) return reject(http::status::bad_request, "no such command (add)");
            return add(req.body());
        case http::verb::patch:
            ++calls.set;
            if (row == table.end()) return reject(http::status::not_found, "");
            return set(*row, req.body());
        case http::verb::delete_:
            ++calls.remove;
            if (row == table.end()) return reject(http::status::not_found, "");
            table.erase(row);
            return response{http::status::no_content, 11};
        default:
            return reject(http::status::bad_request, "no such command or directory");
    }
}

response fake_routeros::impl::add(const std::string& body) {
    fake_arp_row row;
    if (auto problem = apply(row, body)) return reject(http::status::bad_request, *problem);
    if (row.address.empty()) return reject(http::status::bad_request, "missing value of address");
    if (row.interface.empty()) {
        return reject(http::status::bad_request, "missing value of interface");
    }
    std::string id(16, '\0');
    id.resize(static_cast<std::size_t>(std::snprintf(id.data(), id.size(), "*%X", next_id++)));
    row.id = id;
    if (row.mac_address.empty()) row.mac_address = "00:00:00:00:00:00";
    table.push_back(row);
    return json_answer(http::status::created, row_json(row));
}

response fake_routeros::impl::set(fake_arp_row& row, const std::string& body) {
    fake_arp_row changed = row;
    if (auto problem = apply(changed, body)) return reject(http::status::bad_request, *problem);
    row = changed;
    return json_answer(http::status::ok, row_json(row));
}

std::optional<std::string> fake_routeros::impl::apply(fake_arp_row& row, const std::string& body) {
    json fields;
    try {
        fields = json::parse(body);
    } catch (const json::exception&) {
        return "JSON parse error";
    }
    if (!fields.is_object()) return "JSON object expected";
    for (const auto& [key, value] : fields.items()) {
        if (!value.is_string()) return "invalid value for argument " + key;
        const auto text = value.get<std::string>();
        if (key == "address") {
            in_addr parsed{};
            if (inet_pton(AF_INET, text.c_str(), &parsed) != 1) {
                return "invalid value for argument address";
            }
            row.address = text;
        } else if (key == "mac-address") {
            const auto mac = upper_mac(text);
            if (!mac) return "invalid value of mac-address, mac address required";
            row.mac_address = *mac;
        } else if (key == "interface") {
            const auto& known = options.interfaces;
            if (std::find(known.begin(), known.end(), text) == known.end()) {
                return "input does not match any value of interface";
            }
            row.interface = text;
        } else if (key == "comment") {
            row.comment = text;
        } else {
            return "unknown parameter " + key;
        }
    }
    for (const auto& other : table) {
        if (other.id != row.id && other.address == row.address &&
            other.interface == row.interface) {
            return "failure: already have such address";
        }
    }
    return std::nullopt;
}

fake_routeros::fake_routeros(fake_routeros_options options) : impl_(std::make_unique<impl>()) {
    impl& s = *impl_;
    s.options = std::move(options);
    s.expected_authorization = "Basic " + base64(s.options.user + ":" + s.options.password);
    if (!s.options.certificate_pem.empty()) {
        s.tls.emplace(asio::ssl::context::tls_server);
        s.tls->use_certificate_chain(asio::buffer(s.options.certificate_pem));
        s.tls->use_private_key(asio::buffer(s.options.private_key_pem), asio::ssl::context::pem);
    }
    const tcp::endpoint loopback(asio::ip::make_address("127.0.0.1"), 0);
    s.acceptor.open(loopback.protocol());
    s.acceptor.set_option(tcp::acceptor::reuse_address(true));
    s.acceptor.bind(loopback);
    s.acceptor.listen();
    s.port = s.acceptor.local_endpoint().port();
    asio::co_spawn(s.io, s.accept_loop(), asio::detached);
    s.thread = std::thread([&s] { s.io.run(); });
}

fake_routeros::~fake_routeros() {
    impl_->io.stop();
    impl_->thread.join();
}

std::uint16_t fake_routeros::port() const { return impl_->port; }

std::string fake_routeros::url() const {
    return std::string(impl_->tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(port());
}

std::string fake_routeros::token() const {
    return impl_->options.user + ":" + impl_->options.password;
}

std::vector<fake_arp_row> fake_routeros::arp_table() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->table;
}

fake_routeros_calls fake_routeros::calls() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->calls;
}

void fake_routeros::set_delay(std::chrono::milliseconds delay) {
    std::lock_guard lock(impl_->mutex);
    impl_->delay = delay;
}

}  // namespace vpsfleet::testing
