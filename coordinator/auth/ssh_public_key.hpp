#pragma once
// OpenSSH public keys as customers paste them: one line "type base64 [comment]" of a key type
// OpenSSH accepts, whose blob names the same type, with the SHA256 fingerprint `ssh-keygen -l`
// prints. A line break or control character is refused: it could smuggle a second key (with
// options) into an authorized_keys file.
#include <optional>
#include <string>

namespace vpsfleet::auth {

struct ssh_public_key {
    std::string public_key;  // "type base64 [comment]", outer whitespace trimmed
    std::string fingerprint;
};

std::optional<ssh_public_key> parse_ssh_public_key(const std::string& text);

}  // namespace vpsfleet::auth
