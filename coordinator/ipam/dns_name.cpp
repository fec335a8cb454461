#include "coordinator/ipam/dns_name.hpp"

#include "coordinator/ipam/ipam_error.hpp"

namespace vpsfleet::ipam {

namespace {

[[noreturn]] void invalid(std::string_view field, const std::string& why) {
    throw ipam_error("invalid_dns_name", std::string(field) + " " + why);
}

}  // namespace

std::string normalize_dns_name(std::string_view name, std::string_view field) {
    if (name.ends_with('.')) name.remove_suffix(1);
    if (name.empty()) invalid(field, "must be a fully qualified name such as host.example.com");
    if (name.size() > 253) invalid(field, "is longer than 253 characters");
    std::string out;
    out.reserve(name.size());
    std::size_t labels = 0;
    std::size_t start = 0;
    while (start <= name.size()) {
        const auto dot = name.find('.', start);
        const auto label = name.substr(
            start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
        ++labels;
        if (label.empty()) invalid(field, "has an empty label ('..' or a leading dot)");
        if (label.size() > 63) {
            invalid(field, "has a label longer than 63 characters: '" + std::string(label) + "'");
        }
        if (label.front() == '-' || label.back() == '-') {
            invalid(field, "has a label starting or ending with '-': '" + std::string(label) + "'");
        }
        for (char ch : label) {
            if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
            if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-')) {
                invalid(field, "may only contain letters, digits, '-' and '.'; '" +
                                   std::string(label) + "' does not qualify");
            }
            out += ch;
        }
        if (dot == std::string_view::npos) break;
        out += '.';
        start = dot + 1;
    }
    if (labels < 2) invalid(field, "must be a fully qualified name such as host.example.com");
    return out;
}

}  // namespace vpsfleet::ipam
