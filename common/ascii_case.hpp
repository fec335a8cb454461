#pragma once
// Case folding of ASCII letters only, whatever the process locale: for emails, currency and
// country codes, protocol names and header values, never for text shown to people.
#include <string>
#include <string_view>

namespace vpsfleet {

inline std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

inline std::string ascii_upper(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    return out;
}

}  // namespace vpsfleet
