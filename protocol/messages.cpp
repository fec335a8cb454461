#include "protocol/messages.hpp"

#include <openssl/rand.h>

#include <array>
#include <chrono>
#include <random>

namespace vpsfleet::protocol {
namespace {

void random_bytes(std::array<unsigned char, 16>& out) {
    if (RAND_bytes(out.data(), static_cast<int>(out.size())) == 1) return;
    // OpenSSL's generator failing is next to impossible; an id is still better than no message.
    std::random_device device;
    for (auto& b : out) b = static_cast<unsigned char>(device());
}

}  // namespace

std::string_view type_of(const message& m) {
    return std::visit([](const auto& body) { return std::decay_t<decltype(body)>::k_type; }, m);
}

std::string new_id() {
    std::array<unsigned char, 16> bytes{};
    random_bytes(bytes);
    bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x40);  // version 4
    bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);  // RFC 4122 variant
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
        out += hex[bytes[i] >> 4];
        out += hex[bytes[i] & 0x0f];
    }
    return out;
}

envelope make(message body, std::optional<std::string> ref) {
    using namespace std::chrono;
    envelope e;
    e.type = std::string(type_of(body));
    e.id = new_id();
    e.ref = std::move(ref);
    e.ts = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
    e.body = std::move(body);
    return e;
}

}  // namespace vpsfleet::protocol
