#include "coordinator/billing/stripe_webhook.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <optional>
#include <vector>

namespace vpsfleet::billing {
namespace {

using json = nlohmann::json;
using digest = std::array<unsigned char, 32>;

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// A v1 value that is not 64 hex digits can match nothing; it is dropped, not an error.
std::optional<digest> parse_signature(std::string_view hex) {
    digest out{};
    if (hex.size() != 2 * out.size()) return std::nullopt;
    for (std::size_t i = 0; i < out.size(); ++i) {
        const int hi = hex_value(hex[2 * i]);
        const int lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out[i] = static_cast<unsigned char>(hi * 16 + lo);
    }
    return out;
}

struct signature_header {
    std::int64_t timestamp = 0;
    std::string_view timestamp_text;
    std::vector<digest> v1;
    std::size_t v1_seen = 0;
};

std::optional<signature_header> parse_header(std::string_view header) {
    signature_header out;
    bool have_t = false;
    while (!header.empty()) {
        const auto comma = header.find(',');
        const std::string_view item = trim(header.substr(0, comma));
        header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
        const auto eq = item.find('=');
        if (eq == std::string_view::npos || eq == 0) return std::nullopt;
        const std::string_view key = item.substr(0, eq);
        const std::string_view value = item.substr(eq + 1);
        if (key == "t") {
            // Seconds since 1970 in at most 12 digits: until the year 33658.
            if (have_t || value.empty() || value.size() > 12) return std::nullopt;
            std::int64_t t = 0;
            for (const char c : value) {
                if (c < '0' || c > '9') return std::nullopt;
                t = t * 10 + (c - '0');
            }
            out.timestamp = t;
            out.timestamp_text = value;
            have_t = true;
        } else if (key == "v1") {
            ++out.v1_seen;
            if (auto sig = parse_signature(value)) out.v1.push_back(*sig);
        }
    }
    if (!have_t || out.v1_seen == 0) return std::nullopt;
    return out;
}

std::optional<digest> sign(std::string_view timestamp, std::string_view payload,
                           std::string_view secret) {
    std::string signed_payload;
    signed_payload.reserve(timestamp.size() + 1 + payload.size());
    signed_payload.append(timestamp).append(".").append(payload);
    digest mac{};
    unsigned int length = 0;
    if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
             reinterpret_cast<const unsigned char*>(signed_payload.data()), signed_payload.size(),
             mac.data(), &length) == nullptr ||
        length != mac.size()) {
        return std::nullopt;
    }
    return mac;
}

std::optional<webhook_event> parse_event(std::string_view payload) {
    try {
        const json body = json::parse(payload);
        if (!body.is_object()) return std::nullopt;
        const auto id = body.find("id");
        const auto type = body.find("type");
        const auto created = body.find("created");
        const auto data = body.find("data");
        if (id == body.end() || !id->is_string() || type == body.end() || !type->is_string() ||
            created == body.end() || !created->is_number_integer() || data == body.end() ||
            !data->is_object() || !data->contains("object") || !(*data)["object"].is_object()) {
            return std::nullopt;
        }
        return webhook_event{id->get<std::string>(), type->get<std::string>(),
                             created->get<std::int64_t>(), (*data)["object"]};
    } catch (const json::exception&) {
        return std::nullopt;
    }
}

}  // namespace

webhook_result verify_stripe_webhook(std::string_view payload,
                                     std::string_view stripe_signature_header,
                                     std::string_view endpoint_secret,
                                     std::chrono::seconds tolerance,
                                     std::chrono::system_clock::time_point now) {
    const auto header = parse_header(stripe_signature_header);
    if (!header) return {webhook_verdict::malformed_header, {}};
    // An empty key would let anyone sign.
    if (endpoint_secret.empty()) return {webhook_verdict::bad_signature, {}};
    const auto expected = sign(header->timestamp_text, payload, endpoint_secret);
    if (!expected) return {webhook_verdict::bad_signature, {}};
    bool match = false;
    for (const digest& candidate : header->v1) {
        // Every candidate is compared, so the time taken says nothing about which one matched.
        match |= CRYPTO_memcmp(candidate.data(), expected->data(), expected->size()) == 0;
    }
    if (!match) return {webhook_verdict::bad_signature, {}};

    const std::int64_t now_s =
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    const std::int64_t age = now_s - header->timestamp;
    if (age > tolerance.count() || -age > tolerance.count()) return {webhook_verdict::stale, {}};

    auto event = parse_event(payload);
    if (!event) return {webhook_verdict::bad_payload, {}};
    return {webhook_verdict::ok, std::move(*event)};
}

std::string_view verdict_name(webhook_verdict verdict) {
    switch (verdict) {
        case webhook_verdict::ok:
            return "ok";
        case webhook_verdict::malformed_header:
            return "malformed_header";
        case webhook_verdict::bad_signature:
            return "bad_signature";
        case webhook_verdict::stale:
            return "stale";
        case webhook_verdict::bad_payload:
            return "bad_payload";
    }
    return "unknown";
}

}  // namespace vpsfleet::billing
