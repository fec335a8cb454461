#include "coordinator/mail/smtp_client.hpp"

#include "common/log.hpp"
#include "common/utc_time.hpp"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <cstring>
#include <ctime>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace vpsfleet::mail {
namespace {

// RFC 5322's limit is 998 octets a line; 7-bit text within it goes as it is.
constexpr std::size_t k_max_line = 998;

std::string base64(std::string_view data) {
    std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(data.data()),
                                  static_cast<int>(data.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

bool is_ascii(std::string_view s) {
    for (unsigned char c : s) {
        if (c >= 0x80) return false;
    }
    return true;
}

// Encoded words of at most 45 bytes of UTF-8 each (60 base64 characters), never splitting a
// character, folded onto continuation lines.
std::string encode_subject(std::string_view subject) {
    if (is_ascii(subject) && subject.size() < 900) return std::string(subject);
    std::string out;
    std::size_t pos = 0;
    while (pos < subject.size()) {
        std::size_t end = std::min(pos + 45, subject.size());
        while (end > pos + 1 && end < subject.size() &&
               (static_cast<unsigned char>(subject[end]) & 0xc0) == 0x80) {
            --end;
        }
        if (!out.empty()) out += "\r\n ";
        out += "=?UTF-8?B?" + base64(subject.substr(pos, end - pos)) + "?=";
        pos = end;
    }
    return out;
}

// Every line break becomes CRLF.
std::string crlf_lines(std::string_view text) {
    std::string out;
    out.reserve(text.size() + text.size() / 32);
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '\r') {
            out += "\r\n";
            if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
        } else if (c == '\n') {
            out += "\r\n";
        } else {
            out += c;
        }
    }
    if (!out.ends_with("\r\n")) out += "\r\n";
    return out;
}

bool fits_7bit(std::string_view crlf_text) {
    if (!is_ascii(crlf_text)) return false;
    std::size_t line = 0;
    for (char c : crlf_text) {
        if (c == '\n') {
            line = 0;
        } else if (++line > k_max_line || c == '\0') {
            return false;
        }
    }
    return true;
}

std::string rfc5322_date(std::chrono::system_clock::time_point t) {
    static constexpr const char* days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const std::tm tm = utc_fields(t);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday],
                  tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                  tm.tm_sec);
    return buf;
}

struct upload {
    std::string data;
    std::size_t offset = 0;
};

std::size_t read_upload(char* buffer, std::size_t size, std::size_t nitems, void* userdata) {
    auto* up = static_cast<upload*>(userdata);
    const std::size_t n = std::min(size * nitems, up->data.size() - up->offset);
    std::memcpy(buffer, up->data.data() + up->offset, n);
    up->offset += n;
    return n;
}

int progress(void* userdata, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
    const auto* cancelled = static_cast<const std::function<bool()>*>(userdata);
    return (*cancelled && (*cancelled)()) ? 1 : 0;
}

struct curl_deleter {
    void operator()(CURL* c) const { curl_easy_cleanup(c); }
    void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

std::string format_message(const std::string& from, const outgoing_mail& mail) {
    const std::string domain = from.substr(from.rfind('@') + 1);
    const auto created =
        std::chrono::duration_cast<std::chrono::microseconds>(mail.created_at.time_since_epoch())
            .count();
    std::string out;
    out += "Date: " + rfc5322_date(std::chrono::system_clock::now()) + "\r\n";
    out += "From: " + from + "\r\n";
    out += "To: " + mail.to + "\r\n";
    out += "Subject: " + encode_subject(mail.subject) + "\r\n";
    out += "Message-ID: <outbox-" + std::to_string(mail.id) + "." + std::to_string(created) + "@" +
           domain + ">\r\n";
    out += "MIME-Version: 1.0\r\n";
    out += "Content-Type: text/plain; charset=utf-8\r\n";
    const std::string body = crlf_lines(mail.body);
    if (fits_7bit(body)) {
        out += "Content-Transfer-Encoding: 7bit\r\n\r\n";
        out += body;
    } else {
        out += "Content-Transfer-Encoding: base64\r\n\r\n";
        const std::string encoded = base64(body);
        for (std::size_t i = 0; i < encoded.size(); i += 76) out += encoded.substr(i, 76) + "\r\n";
    }
    return out;
}

smtp_client::smtp_client(coordinator::mail_config cfg) : cfg_(std::move(cfg)) {
    // curl_global_init is not thread-safe; every later curl call in the process comes after this.
    static std::once_flag once;
    std::call_once(once, [] {
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
            throw std::runtime_error("libcurl failed to initialise");
        }
    });
    if (cfg_.username && !cfg_.starttls && cfg_.smtp_url.starts_with("smtp://")) {
        log::warn("mail: SMTP credentials may travel in clear; set mail.starttls or use smtps://");
    }
}

std::optional<std::string> smtp_client::send(const outgoing_mail& mail,
                                             const std::function<bool()>& cancelled) const {
    std::unique_ptr<CURL, curl_deleter> curl(curl_easy_init());
    if (!curl) return "libcurl could not create a handle";
    CURL* c = curl.get();

    upload up{format_message(cfg_.from, mail)};
    const std::string mail_from = "<" + cfg_.from + ">";
    std::unique_ptr<curl_slist, curl_deleter> rcpt(
        curl_slist_append(nullptr, ("<" + mail.to + ">").c_str()));
    char error[CURL_ERROR_SIZE] = {};

    curl_easy_setopt(c, CURLOPT_URL, cfg_.smtp_url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(cfg_.timeout.count()));
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(cfg_.timeout.count()));
    if (cfg_.starttls) curl_easy_setopt(c, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_ALL));
    if (cfg_.username) curl_easy_setopt(c, CURLOPT_USERNAME, cfg_.username->c_str());
    if (cfg_.password) curl_easy_setopt(c, CURLOPT_PASSWORD, cfg_.password->c_str());
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, mail_from.c_str());
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt.get());
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_upload);
    curl_easy_setopt(c, CURLOPT_READDATA, &up);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, const_cast<std::function<bool()>*>(&cancelled));

    const CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) return std::nullopt;
    long reply = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &reply);
    std::string reason = error[0] != '\0' ? error : curl_easy_strerror(rc);
    if (reply != 0) reason += " (server replied " + std::to_string(reply) + ")";
    return reason;
}

}  // namespace vpsfleet::mail
