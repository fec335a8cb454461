#include "tests/support/fake_routeros.hpp"

#include "tests/support/fake_https_server.hpp"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <mutex>
#include <optional>

namespace vpsfleet::testing {

namespace http = boost::beast::http;
using json = nlohmann::json;
using request = fake_request;
using response = fake_response;

namespace {

constexpr std::string_view k_menu = "/rest/ip/arp";

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
    mutable std::mutex mutex;
    std::vector<fake_arp_row> table;
    unsigned next_id = 1;
    fake_routeros_calls calls;
    // Last: stopped first, so the handler never sees the members above destroyed.
    std::unique_ptr<fake_https_server> server;

    // Everything below runs under `mutex`.
    response handle(const request& req);
    response reject(http::status status, const std::string& detail);
    response add(const std::string& body);
    response set(fake_arp_row& row, const std::string& body);
    // Applies the fields of a PUT or PATCH body; RouterOS's complaint if one is wrong.
    std::optional<std::string> apply(fake_arp_row& row, const std::string& body);
};

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
    fake_https_server_options server;
    server.tls = !s.options.certificate_pem.empty();
    server.certificate_pem = s.options.certificate_pem;
    server.private_key_pem = s.options.private_key_pem;
    s.server = std::make_unique<fake_https_server>(std::move(server), [&s](const request& req) {
        std::lock_guard lock(s.mutex);
        return s.handle(req);
    });
}

fake_routeros::~fake_routeros() { impl_->server->stop(); }

std::uint16_t fake_routeros::port() const { return impl_->server->port(); }

std::string fake_routeros::url() const { return impl_->server->url(); }

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

void fake_routeros::set_delay(std::chrono::milliseconds delay) { impl_->server->set_delay(delay); }

}  // namespace vpsfleet::testing
