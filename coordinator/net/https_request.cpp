#include "coordinator/net/https_request.hpp"
#include "common/ascii_case.hpp"

#include <curl/curl.h>

#include <cctype>
#include <memory>
#include <mutex>

namespace vpsfleet::net {
namespace {

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
            throw transport_error("transport_failed", "libcurl failed to initialise");
        }
    });
}

struct exchange {
    const request* req;
    response* res;
    bool too_large = false;
};

std::size_t collect_body(char* data, std::size_t size, std::size_t nitems, void* userdata) {
    auto* x = static_cast<exchange*>(userdata);
    const std::size_t n = size * nitems;
    if (x->res->body.size() + n > x->req->max_response_bytes) {
        x->too_large = true;
        return 0;  // curl fails the transfer
    }
    x->res->body.append(data, n);
    return n;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
    return s;
}

// curl hands over each header line, status lines included; a new status line (after a 100
// Continue, say) starts the headers afresh.
std::size_t collect_header(char* data, std::size_t size, std::size_t nitems, void* userdata) {
    auto* x = static_cast<exchange*>(userdata);
    const std::size_t n = size * nitems;
    const std::string_view line(data, n);
    if (line.starts_with("HTTP/")) {
        x->res->headers.clear();
        return n;
    }
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return n;
    x->res->headers.emplace_back(ascii_lower(trim(line.substr(0, colon))),
                                 std::string(trim(line.substr(colon + 1))));
    return n;
}

std::string size_text(std::size_t bytes) {
    constexpr std::size_t mib = 1024 * 1024;
    if (bytes >= mib && bytes % mib == 0) return std::to_string(bytes / mib) + " MiB";
    return std::to_string(bytes) + " bytes";
}

transport_error failure(CURLcode rc, const char* detail, const exchange& x) {
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
        default:
            break;
    }
    if (x.too_large) {
        return transport_error("too_large",
                               "the answer exceeds " + size_text(x.req->max_response_bytes));
    }
    return transport_error(code, detail[0] != '\0' ? detail : curl_easy_strerror(rc));
}

bool has_line_break(std::string_view s) { return s.find_first_of("\r\n") != std::string::npos; }

}  // namespace

transport_error::transport_error(std::string code, const std::string& message)
    : std::runtime_error(message), code(std::move(code)) {}

std::string response::header(std::string_view name) const {
    const std::string wanted = ascii_lower(name);
    for (const auto& [key, value] : headers) {
        if (key == wanted) return value;
    }
    return {};
}

response perform(const request& req) {
    init_curl_once();
    std::unique_ptr<CURL, curl_deleter> curl(curl_easy_init());
    if (!curl) throw transport_error("transport_failed", "libcurl could not create a handle");
    CURL* c = curl.get();

    // "Expect:" stops curl from waiting for a 100 Continue before sending a large body.
    std::unique_ptr<curl_slist, curl_deleter> headers(curl_slist_append(nullptr, "Expect:"));
    if (!headers) throw transport_error("transport_failed", "out of memory");
    for (const auto& [name, value] : req.headers) {
        if (name.empty() || has_line_break(name) || has_line_break(value) ||
            name.find(':') != std::string::npos) {
            throw transport_error("invalid_request", "header \"" + name + "\" is not well formed");
        }
        const std::string line = value.empty() ? name + ";" : name + ": " + value;
        if (curl_slist_append(headers.get(), line.c_str()) == nullptr) {
            throw transport_error("transport_failed", "out of memory");
        }
    }

    response res;
    exchange x{&req, &res};
    char error[CURL_ERROR_SIZE] = {};
    const long timeout_ms = static_cast<long>(req.timeout.count());

    curl_easy_setopt(c, CURLOPT_URL, req.url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, req.method.c_str());
    if (req.method == "HEAD") curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    // A POST without a body still says Content-Length: 0, which some servers insist on.
    if (!req.body.empty() || req.method == "POST" || req.method == "PUT" || req.method == "PATCH") {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, req.body.c_str());
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(req.body.size()));
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    if (!req.basic_user.empty()) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, static_cast<long>(CURLAUTH_BASIC));
        curl_easy_setopt(c, CURLOPT_USERNAME, req.basic_user.c_str());
        curl_easy_setopt(c, CURLOPT_PASSWORD, req.basic_password.c_str());
    }
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
    curl_blob ca{const_cast<char*>(req.ca_pem.data()), req.ca_pem.size(), CURL_BLOB_NOCOPY};
    if (!req.ca_pem.empty()) curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &x);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &x);

    const CURLcode rc = curl_easy_perform(c);
    if (rc != CURLE_OK) throw failure(rc, error, x);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    res.status = static_cast<int>(status);
    return res;
}

}  // namespace vpsfleet::net
