// Fuzzes the fleet-protocol decoder: any input must decode or fail without throwing or crashing,
// and whatever decodes must survive encode and decode unchanged.
#include "protocol/codec.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

using namespace vpsfleet::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto first = decode(text);
    auto* decoded = std::get_if<envelope>(&first);
    if (!decoded) return 0;

    const std::string encoded = encode(*decoded);
    auto second = decode(encoded);
    if (auto* failure = std::get_if<decode_failure>(&second)) {
        std::fprintf(stderr, "re-decoding failed: %s: %s\nencoded: %s\n",
                     std::string(to_string(failure->code)).c_str(), failure->message.c_str(),
                     encoded.c_str());
        std::abort();
    }
    if (std::get<envelope>(second) != *decoded) {
        std::fprintf(stderr, "round trip changed the message\nencoded: %s\n", encoded.c_str());
        std::abort();
    }
    return 0;
}
