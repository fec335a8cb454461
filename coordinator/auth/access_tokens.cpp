#include "coordinator/auth/access_tokens.hpp"

#include "coordinator/auth/password.hpp"

#include <sodium.h>
#include <nlohmann/json.hpp>

#include <stdexcept>

namespace vpsfleet::auth {

using json = nlohmann::json;

namespace {

constexpr int b64_variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;

std::string b64url(std::string_view data) {
    std::string out(sodium_base64_encoded_len(data.size(), b64_variant), '\0');
    sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(data.data()),
                      data.size(), b64_variant);
    out.resize(out.find('\0'));
    return out;
}

std::optional<std::string> unb64url(std::string_view text) {
    std::string out(text.size(), '\0');
    std::size_t len = 0;
    if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(),
                          text.size(), nullptr, &len, nullptr, b64_variant) != 0) {
        return std::nullopt;
    }
    out.resize(len);
    return out;
}

std::string mac(const std::vector<unsigned char>& key, std::string_view data) {
    unsigned char out[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state state;
    crypto_auth_hmacsha256_init(&state, key.data(), key.size());
    crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(data.data()),
                                  data.size());
    crypto_auth_hmacsha256_final(&state, out);
    return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

const std::string& jwt_header() {
    static const std::string header = b64url(R"({"alg":"HS256","typ":"JWT"})");
    return header;
}

}  // namespace

token_signer::token_signer(std::vector<unsigned char> key) : key_(std::move(key)) {
    if (key_.size() < 32) throw std::invalid_argument("token signing key shorter than 32 bytes");
}

std::string token_signer::sign(const access_claims& c) const {
    const json payload{{"sub", c.user_uid},  {"uid", c.user_id},    {"fam", c.family},
                       {"iat", c.issued_at}, {"exp", c.expires_at}, {"typ", "access"}};
    std::string signing_input = jwt_header() + "." + b64url(payload.dump());
    const std::string signature = b64url(mac(key_, signing_input));
    return signing_input + "." + signature;
}

std::optional<access_claims> token_signer::verify(std::string_view token,
                                                  std::int64_t now_unix) const {
    const auto first = token.find('.');
    const auto last = token.rfind('.');
    if (first == std::string_view::npos || first == last) return std::nullopt;
    if (token.substr(0, first) != jwt_header()) return std::nullopt;
    const auto given = unb64url(token.substr(last + 1));
    const std::string expected = mac(key_, token.substr(0, last));
    if (!given || given->size() != expected.size() ||
        sodium_memcmp(given->data(), expected.data(), expected.size()) != 0) {
        return std::nullopt;
    }
    const auto payload_text = unb64url(token.substr(first + 1, last - first - 1));
    if (!payload_text) return std::nullopt;
    const json payload = json::parse(*payload_text, nullptr, false);
    if (!payload.is_object() || payload.value("typ", "") != "access") return std::nullopt;
    try {
        access_claims c{payload.at("uid").get<std::int64_t>(), payload.at("sub").get<std::string>(),
                        payload.at("fam").get<std::string>(), payload.at("iat").get<std::int64_t>(),
                        payload.at("exp").get<std::int64_t>()};
        if (c.expires_at <= now_unix) return std::nullopt;
        return c;
    } catch (const json::exception&) {
        return std::nullopt;
    }
}

std::vector<unsigned char> load_or_create_key(pqxx::connection& conn, const std::string& name,
                                              std::size_t bytes) {
    init_sodium();
    std::vector<unsigned char> fresh(bytes);
    randombytes_buf(fresh.data(), fresh.size());
    pqxx::work tx(conn);
    tx.exec_params("INSERT INTO auth_keys (name, secret) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                   name, pqxx::binarystring(fresh.data(), fresh.size()));
    const auto row = tx.exec_params1("SELECT secret FROM auth_keys WHERE name = $1", name);
    tx.commit();
    const pqxx::binarystring stored(row[0]);
    return {stored.begin(), stored.end()};
}

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace vpsfleet::auth
