#include "coordinator/ipam/router_client.hpp"

#include "common/log.hpp"
#include "coordinator/net/https_request.hpp"

#include <nlohmann/json.hpp>

#include <string_view>

namespace vpsfleet::ipam {
namespace {

using json = nlohmann::json;

// RouterOS's default limit of 8192 ARP entries lists as about 2 MiB of JSON.
constexpr std::size_t k_max_response = 32 * 1024 * 1024;

router_error invalid_config(const std::string& message) {
    return router_error("invalid_config", message);
}

// "https://router.example:8443/" -> "https://router.example:8443/rest"
std::string rest_base(const std::string& url) {
    std::string_view scheme;
    for (std::string_view s : {"https://", "http://"}) {
        if (url.starts_with(s)) scheme = s;
    }
    if (scheme.empty()) {
        throw invalid_config("router url must start with https:// (or http://), got \"" + url +
                             "\"");
    }
    const std::string_view rest = std::string_view(url).substr(scheme.size());
    const auto slash = rest.find('/');
    const std::string_view authority = rest.substr(0, slash);
    const std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
    if (authority.find('@') != std::string_view::npos) {
        throw invalid_config("router url must not carry credentials; put them in the token");
    }
    if (authority.empty() || authority.find_first_of("?# \t") != std::string_view::npos ||
        (path != "" && path != "/" && path != "/rest" && path != "/rest/")) {
        throw invalid_config(
            "router url must be the router's base URL, https://HOST[:PORT], got \"" + url + "\"");
    }
    return std::string(scheme) + std::string(authority) + "/rest";
}

// RouterOS ids are "*" and hex digits; anything else must not reach a URL path.
bool valid_ref(const std::string& ref) {
    if (ref.size() < 2 || ref.size() > 17 || ref[0] != '*') return false;
    return ref.find_first_not_of("0123456789abcdefABCDEF", 1) == std::string::npos;
}

std::string text(const json& object, const char* key) {
    const auto it = object.find(key);
    return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

router_error transport_error(const net::transport_error& e, const std::string& request) {
    // The router's codes predate net's: an oversized answer has always been a bad response.
    std::string code = e.code;
    if (code == "too_large") code = "bad_response";
    if (code == "invalid_request") code = "transport_failed";
    return router_error(code, request + ": " + e.what());
}

router_error http_error(long status, const std::string& body, const std::string& request) {
    std::string detail;
    try {
        const json error = json::parse(body);
        if (error.is_object()) {
            detail = text(error, "detail");
            if (detail.empty()) detail = text(error, "message");
        }
    } catch (const json::exception&) {
    }
    const std::string where = " (HTTP " + std::to_string(status) + " to " + request + ")";
    if (status == 401) {
        return router_error("unauthorized",
                            "the router refused the user and password of the token" + where);
    }
    if (status == 403) {
        if (detail.empty()) detail = "the router user lacks the rest-api, read or write policy";
        return router_error("forbidden", detail + where);
    }
    if (detail.empty()) detail = "no reason given";
    if (status == 404) return router_error("not_found", detail + where);
    if (status >= 400 && status < 500) return router_error("rejected", detail + where);
    return router_error("router_failed", detail + where);
}

class mikrotik_client final : public router_client {
  public:
    mikrotik_client(const router_config& config, const router_options& options)
        : base_(rest_base(config.url)), ca_pem_(options.ca_pem), timeout_(options.timeout) {
        const auto colon = config.token.find(':');
        if (colon == std::string::npos || colon == 0) {
            throw invalid_config(
                "mikrotik router token must be \"user:password\" (the RouterOS user of the REST "
                "API and its password)");
        }
        user_ = config.token.substr(0, colon);
        password_ = config.token.substr(colon + 1);
        if (base_.starts_with("http://")) {
            log::warn("router: the RouterOS password travels in clear over http://; use https://",
                      {{"url", config.url}});
        }
    }

    std::string add_arp(const arp_entry& entry) override {
        json body = {
            {"address", entry.ip}, {"mac-address", entry.mac}, {"interface", entry.interface}};
        if (!entry.comment.empty()) body["comment"] = entry.comment;
        const json created = call("PUT", "/ip/arp", body.dump());
        const std::string id = created.is_object() ? text(created, ".id") : std::string();
        if (id.empty()) {
            throw router_error("bad_response", "the router answered the ARP entry for " + entry.ip +
                                                   " without its .id");
        }
        return id;
    }

    void remove_arp(const std::string& arp_ref) override {
        if (!valid_ref(arp_ref)) {
            throw router_error("invalid_reference",
                               "\"" + arp_ref + "\" is not a RouterOS id such as *1A");
        }
        try {
            call("DELETE", "/ip/arp/" + arp_ref, "");
        } catch (const router_error& e) {
            if (e.code != "not_found") throw;
        }
    }

    std::vector<std::pair<std::string, arp_entry>> list_arp() override {
        const json table = call("GET", "/ip/arp", "");
        if (!table.is_array()) {
            throw router_error("bad_response",
                               "the router listed its ARP table as something "
                               "other than a JSON array");
        }
        std::vector<std::pair<std::string, arp_entry>> out;
        out.reserve(table.size());
        for (const auto& row : table) {
            const std::string id = row.is_object() ? text(row, ".id") : std::string();
            if (id.empty()) {
                throw router_error("bad_response", "the router listed an ARP entry without .id");
            }
            out.emplace_back(id, arp_entry{text(row, "address"), text(row, "mac-address"),
                                           text(row, "interface"), text(row, "comment")});
        }
        return out;
    }

  private:
    // One request; the parsed JSON answer (null for an empty body) or a router_error.
    json call(const char* method, const std::string& path, const std::string& body) const {
        const std::string request = std::string(method) + " /rest" + path;
        net::request req;
        req.method = method;
        req.url = base_ + path;
        req.headers = {{"Accept", "application/json"}};
        if (!body.empty()) req.headers.emplace_back("Content-Type", "application/json");
        req.body = body;
        req.basic_user = user_;
        req.basic_password = password_;
        req.ca_pem = ca_pem_;
        req.timeout = timeout_;
        req.max_response_bytes = k_max_response;
        net::response answer;
        try {
            answer = net::perform(req);
        } catch (const net::transport_error& e) {
            throw transport_error(e, request);
        }
        if (answer.status < 200 || answer.status > 299) {
            throw http_error(answer.status, answer.body, request);
        }
        if (answer.body.empty()) return json();
        try {
            return json::parse(answer.body);
        } catch (const json::exception&) {
            throw router_error("bad_response", request + ": the router's answer is not JSON");
        }
    }

    std::string base_;
    std::string user_;
    std::string password_;
    std::string ca_pem_;
    std::chrono::milliseconds timeout_;
};

class ovh_client final : public router_client {
  public:
    std::string add_arp(const arp_entry&) override { unsupported(); }
    void remove_arp(const std::string&) override { unsupported(); }
    std::vector<std::pair<std::string, arp_entry>> list_arp() override { unsupported(); }

  private:
    [[noreturn]] static void unsupported() {
        throw router_error("not_supported", "OVH additional-IP routers are not supported yet");
    }
};

}  // namespace

router_error::router_error(std::string code, const std::string& message)
    : std::runtime_error(message), code(std::move(code)) {}

std::unique_ptr<router_client> make_router_client(const router_config& config,
                                                  const router_options& options) {
    if (config.kind == "mikrotik") return std::make_unique<mikrotik_client>(config, options);
    if (config.kind == "ovh_additional_ip") return std::make_unique<ovh_client>();
    throw invalid_config("unknown router kind \"" + config.kind +
                         "\" (expected mikrotik or ovh_additional_ip)");
}

}  // namespace vpsfleet::ipam
