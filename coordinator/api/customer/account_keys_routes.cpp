#include "coordinator/api/customer/account_keys_routes.hpp"

#include "common/secrets.hpp"
#include "coordinator/api/api_error.hpp"
#include "coordinator/api/body.hpp"
#include "coordinator/audit/audit_log.hpp"
#include "coordinator/store/sql.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <vector>

namespace vpsfleet::api::customer {

namespace asio = boost::asio;
using json = nlohmann::json;
using verb = boost::beast::http::verb;
using http::path_params;

namespace {

constexpr std::array k_key_types = {
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
};

struct parsed_key {
    std::string public_key;  // as stored: "type base64 [comment]", outer whitespace trimmed
    std::string fingerprint;
};

api_error invalid_key() {
    return bad_request("invalid OpenSSH public key", {{"field", "public_key"}});
}

bool is_space(char ch) { return ch == ' ' || ch == '\t'; }

// The key blob opens with its type as an SSH string (32-bit big-endian length, then the bytes),
// which must repeat the type written in front of the base64.
bool blob_names_type(const std::vector<unsigned char>& blob, const std::string& type) {
    if (blob.size() < 4) return false;
    const std::size_t len = (std::size_t{blob[0]} << 24) | (std::size_t{blob[1]} << 16) |
                            (std::size_t{blob[2]} << 8) | std::size_t{blob[3]};
    return len == type.size() && blob.size() >= 4 + len &&
           std::equal(type.begin(), type.end(), blob.begin() + 4);
}

// "SHA256:" + unpadded base64 of SHA-256 of the blob, as `ssh-keygen -l` prints it.
std::string openssh_fingerprint(const std::vector<unsigned char>& blob) {
    std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
    crypto_hash_sha256(digest.data(), blob.data(), blob.size());
    std::string b64(
        sodium_base64_ENCODED_LEN(digest.size(), sodium_base64_VARIANT_ORIGINAL_NO_PADDING), '\0');
    sodium_bin2base64(b64.data(), b64.size(), digest.data(), digest.size(),
                      sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    b64.resize(b64.find('\0'));
    return "SHA256:" + b64;
}

parsed_key parse_public_key(const std::string& text) {
    // One line of printable text: a line break or control character could smuggle a second
    // key (with options) into an authorized_keys file.
    if (text.size() > 16384) throw invalid_key();
    for (const char ch : text) {
        if (static_cast<unsigned char>(ch) < 0x20 && ch != '\t') throw invalid_key();
        if (ch == 0x7f) throw invalid_key();
    }
    const auto first = text.find_first_not_of(" \t");
    if (first == std::string::npos) throw invalid_key();
    const std::string key = text.substr(first, text.find_last_not_of(" \t") - first + 1);

    const auto type_end = std::find_if(key.begin(), key.end(), is_space);
    const std::string type(key.begin(), type_end);
    if (std::find(k_key_types.begin(), k_key_types.end(), type) == k_key_types.end()) {
        throw invalid_key();
    }
    const auto body_begin = std::find_if_not(type_end, key.end(), is_space);
    if (body_begin == type_end || body_begin == key.end()) throw invalid_key();
    const std::string body(body_begin, std::find_if(body_begin, key.end(), is_space));

    std::vector<unsigned char> blob(body.size());
    std::size_t blob_len = 0;
    // Strict decoding: padded standard base64 and nothing after it.
    if (sodium_base642bin(blob.data(), blob.size(), body.data(), body.size(), nullptr, &blob_len,
                          nullptr, sodium_base64_VARIANT_ORIGINAL) != 0) {
        throw invalid_key();
    }
    blob.resize(blob_len);
    if (!blob_names_type(blob, type)) throw invalid_key();
    return {key, openssh_fingerprint(blob)};
}

std::string key_name(const json& body) {
    const std::string name = required_string(body, "name");
    if (name.empty() || name.size() > 64) {
        throw bad_request("name must be 1-64 characters", {{"field", "name"}});
    }
    return name;
}

}  // namespace

void add_account_key_routes(endpoints& api, services& s) {
    api.add(verb::get, "/account/sshkeys", access::signed_in(),
            [&s](http::request&, const path_params&, call& c) -> asio::awaitable<http::response> {
                const std::int64_t user_id = c.who.user_id;
                auto list = [user_id](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    json keys = json::array();
                    for (const auto& r : tx.exec_params(
                             "SELECT uid, name, public_key, fingerprint, " +
                                 store::iso8601("created_at") +
                                 " FROM account_ssh_keys WHERE user_id = $1 ORDER BY id DESC",
                             user_id)) {
                        keys.push_back({{"uid", r[0].as<std::string>()},
                                        {"name", r[1].as<std::string>()},
                                        {"public_key", r[2].as<std::string>()},
                                        {"fingerprint", r[3].as<std::string>()},
                                        {"created_at", r[4].as<std::string>()}});
                    }
                    return keys;
                };
                const json keys = co_await s.db.run(list);
                co_return json_reply({{"ssh_keys", keys}});
            });

    api.add(
        verb::post, "/account/sshkeys", access::signed_in(),
        [&s](http::request& req, const path_params&, call& c) -> asio::awaitable<http::response> {
            const json body = json_body(req);
            const std::string name = key_name(body);
            const parsed_key key = parse_public_key(required_string(body, "public_key"));
            auto add = [&](pqxx::connection& conn) {
                pqxx::work tx(conn);
                const std::string uid = secrets::random_token("key_", 9);
                const auto rows = tx.exec_params(
                    "INSERT INTO account_ssh_keys (uid, user_id, name, public_key, fingerprint) "
                    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (user_id, fingerprint) DO NOTHING "
                    "RETURNING id",
                    uid, c.who.user_id, name, key.public_key, key.fingerprint);
                if (rows.empty()) throw conflict("key_exists", "This SSH key is already added");
                const json added = {{"uid", uid}, {"name", name}, {"fingerprint", key.fingerprint}};
                audit::record(tx, c.who, c.request_id,
                              {"ssh_key.create", "ssh_key", uid, nullptr, added});
                tx.commit();
                return added;
            };
            const json added = co_await s.db.run(add);
            co_return json_reply({{"ssh_key", added}}, http::status::created);
        });

    api.add(verb::delete_, "/account/sshkeys/{key}", access::signed_in(),
            [&s](http::request&, const path_params& p, call& c) -> asio::awaitable<http::response> {
                const std::string uid = p.at("key");
                auto remove = [&](pqxx::connection& conn) {
                    pqxx::work tx(conn);
                    const auto rows = tx.exec_params(
                        "DELETE FROM account_ssh_keys WHERE uid = $1 AND user_id = $2 "
                        "RETURNING name, fingerprint",
                        uid, c.who.user_id);
                    if (rows.empty()) throw not_found("key_not_found", "SSH key not found");
                    audit::record(tx, c.who, c.request_id,
                                  {"ssh_key.delete", "ssh_key", uid,
                                   json{{"uid", uid},
                                        {"name", rows[0][0].as<std::string>()},
                                        {"fingerprint", rows[0][1].as<std::string>()}},
                                   nullptr});
                    tx.commit();
                };
                co_await s.db.run(remove);
                co_return no_content();
            });
}

}  // namespace vpsfleet::api::customer
