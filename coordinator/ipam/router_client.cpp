#include "coordinator/ipam/router_client.hpp"

#include "common/log.hpp"

#include <curl/curl.h>
#include <nlohmann/json.hpp>

#include <mutex>
#include <string_view>

namespace vpsfleet::ipam {
namespace {

using json = nlohmann::json;

// RouterOS's default limit of 8192 ARP entries lists as about 2 MiB of JSON.
constexpr std::size_t k_max_response = 32 * 1024 * 1024;

struct curl_deleter {
    void operator()(CURL* c) const { curl_easy_cleanup(c); }
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

void init_curl_once() {
    // curl_global_init is not thread-safe; it counts its callers, so sharing it with the SMTP
    // client is fine.
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            throw router_error("transport_failed", "libcurl failed to initialise");
        }
    });
}

std::size_t collect(char* data, std::size_t size, std::size_t nitems, void* userdata) {
    auto* body = static_cast<std::string*>(userdata);
    const std::size_t n = size * nitems;
    if (body->size() + n > k_max_response) return 0;  // curl fails the transfer
    body->append(data, n);
    return n;
}

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

router_error transport_error(CURLcode rc, const char* detail, const std::string& request) {
    std::string code = "transport_failed";
    switch (rc) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_CONNECT:
            code = "unreachable";
            break;
        case CURLE_OPERATION_TIMEDOUT:
            code = "timeout";
            break;
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CONNECT_ERROR:
        case CURLE_SSL_CERTPROBLEM:
        case CURLE_SSL_CIPHER:
        case CURLE_SSL_CACERT_BADFILE:
            code = "tls_failed";
            break;
        case CURLE_WRITE_ERROR:
            code = "bad_response";
            break;
        default:
            break;
    }
    std::string reason = detail[0] != '\0' ? detail : curl_easy_strerror(rc);
    if (rc == CURLE_WRITE_ERROR) reason = "the answer exceeds 32 MiB";
    return router_error(code, request + ": " + reason);
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
        init_curl_once();
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
        std::unique_ptr<CURL, curl_deleter> curl(curl_easy_init());
        if (!curl) throw router_error("transport_failed", "libcurl could not create a handle");
        CURL* c = curl.get();
        std::unique_ptr<curl_slist, curl_deleter> headers(
            curl_slist_append(nullptr, "Accept: application/json"));
        if (!body.empty()) {
            curl_slist* more = curl_slist_append(headers.get(), "Content-Type: application/json");
            if (more == nullptr) throw router_error("transport_failed", "out of memory");
        }
        const std::string url = base_ + path;
        std::string answer;
        char error[CURL_ERROR_SIZE] = {};
        const long timeout_ms = static_cast<long>(timeout_.count());

        curl_easy_setopt(c, CURLOPT_URL, url.c_str());
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        if (!body.empty()) {
            curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.c_str());
            curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
        }
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
        curl_easy_setopt(c, CURLOPT_USERNAME, user_.c_str());
        curl_easy_setopt(c, CURLOPT_PASSWORD, password_.c_str());
        // Routers sit on the provider's own network: an http(s)_proxy meant for the internet must
        // not see their passwords.
        curl_easy_setopt(c, CURLOPT_PROXY, "");
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
        curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
        curl_blob ca{const_cast<char*>(ca_pem_.data()), ca_pem_.size(), CURL_BLOB_NOCOPY};
        if (!ca_pem_.empty()) curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);

        const CURLcode rc = curl_easy_perform(c);
        if (rc != CURLE_OK) throw transport_error(rc, error, request);
        long status = 0;
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
        if (status < 200 || status > 299) throw http_error(status, answer, request);
        if (answer.empty()) return json();
        try {
            return json::parse(answer);
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
