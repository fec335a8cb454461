#include "tests/support/openapi_contract.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

namespace vpsfleet::testing::contract {

using json = nlohmann::json;

namespace {

// CI clones the product with shared/ beside it, as the work tree has it.
const std::string k_document_path =
    std::string(VPSFLEET_SOURCE_DIR) + "/../shared/seeds/001_712ea82ddb872eaf.txt";

json load_document() {
    std::ifstream in(k_document_path);
    if (!in) {
        throw std::runtime_error("the customer API's OpenAPI document is missing: " +
                                 k_document_path + " (shared/ must sit beside the source tree)");
    }
    json doc = json::parse(in, nullptr, false);
    if (doc.is_discarded() || !doc.contains("paths")) {
        throw std::runtime_error("not an OpenAPI document: " + k_document_path);
    }
    return doc;
}

std::string lower(std::string s) {
    for (char& ch : s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
}

std::string upper(std::string s) {
    for (char& ch : s) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    return s;
}

// JSON types as a schema names them, integers and floats alike "number".
std::string json_type(const json& v) {
    switch (v.type()) {
        case json::value_t::object:
            return "object";
        case json::value_t::array:
            return "array";
        case json::value_t::string:
            return "string";
        case json::value_t::boolean:
            return "boolean";
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
        case json::value_t::number_float:
            return "number";
        default:
            return "null";
    }
}

std::string with_article(const std::string& type) {
    return (type == "object" || type == "array" ? "an " : "a ") + type;
}

// The schema's "type", one name or a list of them.
std::vector<std::string> allowed_types(const json& schema) {
    std::vector<std::string> out;
    const auto it = schema.find("type");
    if (it == schema.end()) return out;
    if (it->is_string()) out.push_back(*it);
    if (it->is_array()) {
        for (const auto& t : *it) {
            if (t.is_string()) out.push_back(t);
        }
    }
    return out;
}

bool type_allows(const std::vector<std::string>& allowed, const json& value) {
    const std::string t = json_type(value);
    return std::any_of(allowed.begin(), allowed.end(), [&](const std::string& a) {
        return a == t || (a == "integer" && value.is_number_integer());
    });
}

// A value of another JSON type than the schema allows; null when every type is allowed.
json wrong_type_value(const std::vector<std::string>& allowed) {
    // Each type's nearest impostor first: digits in a string for a number, and so on.
    std::vector<json> candidates;
    const std::string first = allowed.front();
    if (first == "string") candidates.push_back(12345);
    if (first == "integer" || first == "number") candidates.push_back("12345");
    if (first == "boolean") candidates.push_back("true");
    if (first == "object" || first == "array") candidates.push_back("text");
    for (json v : {json(12345), json("text"), json(true), json::object(), json::array()}) {
        candidates.push_back(std::move(v));
    }
    for (const auto& v : candidates) {
        if (!type_allows(allowed, v)) return v;
    }
    return nullptr;
}

// A value outside the enum, of the enum's own type where it can be.
json outside_enum(const json& values) {
    std::string candidate = "not-in-enum";
    while (std::find(values.begin(), values.end(), json(candidate)) != values.end()) {
        candidate += "-x";
    }
    if (!values.empty() && values[0].is_number()) {
        std::int64_t n = -12345;
        while (std::find(values.begin(), values.end(), json(n)) != values.end()) --n;
        return n;
    }
    return candidate;
}

std::string field_name(const json::json_pointer& at, const std::string& name) {
    std::string out;
    for (const auto& part : (at / name).to_string().substr(1)) out += part == '/' ? '.' : part;
    return "`" + out + "`";
}

void object_defects(const json& schema, const json& valid, const json::json_pointer& at,
                    std::vector<rejected_body>& out) {
    const json& here = valid.at(at);
    if (!here.is_object()) return;
    const json required = schema.value("required", json::array());
    const json properties = schema.value("properties", json::object());
    for (const auto& name : required) {
        if (!name.is_string()) continue;
        if (!here.contains(name.get<std::string>())) {
            throw std::invalid_argument("the valid body lacks the required " +
                                        field_name(at, name) + ": " + valid.dump());
        }
        json body = valid;
        body.at(at).erase(name.get<std::string>());
        out.push_back({"the required " + field_name(at, name) + " is missing", body});
    }
    for (const auto& [name, property] : properties.items()) {
        const auto types = allowed_types(property);
        if (!types.empty()) {
            const json wrong = wrong_type_value(types);
            if (!wrong.is_null()) {
                json body = valid;
                body.at(at)[name] = wrong;
                out.push_back({field_name(at, name) + " is " + with_article(json_type(wrong)) +
                                   ", the schema says " + types.front(),
                               body});
            }
        }
        if (property.contains("enum") && property["enum"].is_array()) {
            json body = valid;
            body.at(at)[name] = outside_enum(property["enum"]);
            out.push_back({field_name(at, name) + " is outside its enum", body});
        }
        if (property.contains("properties") && here.contains(name)) {
            object_defects(property, valid, at / name, out);
        }
    }
}

const json* request_schema(const operation& op) {
    // Pointers into the document itself, which lives as long as the program.
    const json& spec = *op.spec;
    if (!spec.contains("requestBody") || !spec["requestBody"].contains("content")) return nullptr;
    const json& content = spec["requestBody"]["content"];
    if (!content.contains("application/json")) return nullptr;
    const json& media = content["application/json"];
    return media.contains("schema") ? &media["schema"] : nullptr;
}

// Mismatches between the example and the answer at `path` ("" is the whole body).
void compare(const json& example, const json& actual, const std::string& path,
             std::vector<std::string>& out) {
    if (example.is_null()) return;
    const std::string where = path.empty() ? "the body" : path;
    const std::string want = json_type(example);
    const std::string got = json_type(actual);
    if (want != got) {
        out.push_back(where + " is " + (got == "null" ? "null" : with_article(got)) +
                      ", the example has " + with_article(want));
        return;
    }
    if (example.is_object()) {
        for (const auto& [key, value] : example.items()) {
            const std::string inner = path.empty() ? key : path + "." + key;
            if (!actual.contains(key)) {
                out.push_back(inner + " is missing");
            } else {
                compare(value, actual[key], inner, out);
            }
        }
    } else if (example.is_array() && !example.empty() && !actual.empty()) {
        compare(example[0], actual[0], path + "[0]", out);
    }
}

// A word that can be an error code: lowercase letters, digits, '_', and <placeholders>.
bool code_like(const std::string& word) {
    static const std::regex k_code("[a-z][a-z0-9_]*(<[a-z_]+>[a-z0-9_]*)*");
    return std::regex_match(word, k_code);
}

}  // namespace

std::string operation::name() const { return method + " " + path; }

std::string operation::target(const std::map<std::string, std::string>& params) const {
    std::string out = path;
    for (const auto& [key, value] : params) {
        const std::string slot = "{" + key + "}";
        const auto at = out.find(slot);
        if (at == std::string::npos) {
            throw std::invalid_argument(name() + " has no path parameter " + slot);
        }
        out.replace(at, slot.size(), value);
    }
    if (out.find('{') != std::string::npos) {
        throw std::invalid_argument(name() + ": a path parameter has no value: " + out);
    }
    return "/api/v1" + out;
}

bool operation::has_request_body() const { return request_schema(*this) != nullptr; }

const json& customer_document() {
    static const json doc = load_document();
    return doc;
}

std::optional<operation> find_operation(const std::string& method, const std::string& path) {
    const json& paths = customer_document()["paths"];
    const auto p = paths.find(path);
    if (p == paths.end()) return std::nullopt;
    const auto op = p->find(lower(method));
    if (op == p->end()) return std::nullopt;
    return operation{upper(method), path, &*op};
}

std::vector<rejected_body> rejected_bodies(const operation& op) {
    if (!op.has_request_body()) return {};
    const json& media = op.spec->at("requestBody").at("content").at("application/json");
    return rejected_bodies(op, media.value("example", json::object()));
}

std::vector<rejected_body> rejected_bodies(const operation& op, const json& valid) {
    std::vector<rejected_body> out;
    const json* schema = request_schema(op);
    if (schema == nullptr) return out;
    if (allowed_types(*schema) == std::vector<std::string>{"object"}) {
        out.push_back({"the body is a JSON array, not an object", json::array({valid})});
        out.push_back({"the body is a JSON string, not an object", "text"});
    }
    object_defects(*schema, valid, json::json_pointer(), out);
    return out;
}

std::vector<std::string> documented_codes(const operation& op, int status) {
    std::vector<std::string> codes;
    const json& responses = op.spec->value("responses", json::object());
    const auto r = responses.find(std::to_string(status));
    if (r == responses.end()) return codes;
    const std::string description = r->value("description", "");
    // "code — what it means"; an em dash in the document, a plain one tolerated.
    std::string head = description;
    for (const std::string dash : {"\u2014", " - ", " -- "}) {
        const auto at = description.find(dash);
        if (at != std::string::npos) {
            head = description.substr(0, at);
            break;
        }
    }
    // Several codes may be listed: "a / b", "a, b", "a or b". A head with any other word in it
    // is a message ("Invalid API key."), not a code.
    for (char& ch : head) {
        if (ch == '/' || ch == ',' || ch == '`' || ch == '\'' || ch == '"') ch = ' ';
    }
    std::istringstream words(head);
    std::string word;
    while (words >> word) {
        if (word == "or") continue;
        if (!code_like(word)) return {};
        codes.push_back(word);
    }
    return codes;
}

bool code_matches(const std::string& documented, const std::string& code) {
    if (documented.find('<') == std::string::npos) return documented == code;
    static const std::regex k_placeholder("<[a-z_]+>");
    const std::string pattern = std::regex_replace(documented, k_placeholder, "[a-z0-9_]+");
    return std::regex_match(code, std::regex(pattern));
}

std::vector<std::string> check_response(const operation& op, int status, const json& body) {
    std::vector<std::string> out;
    const std::string prefix = op.name() + " " + std::to_string(status) + ": ";
    const json& responses = op.spec->value("responses", json::object());
    const auto r = responses.find(std::to_string(status));
    if (r == responses.end()) {
        std::string listed;
        for (const auto& listed_status : responses.items()) {
            listed += (listed.empty() ? "" : ", ") + listed_status.key();
        }
        out.push_back(prefix + "the document lists only " + listed + " (body " + body.dump() + ")");
        return out;
    }
    if (status >= 200 && status < 300) {
        const json* example = nullptr;
        if (r->contains("content") && (*r)["content"].contains("application/json")) {
            const json& media = (*r)["content"]["application/json"];
            if (media.contains("example")) example = &media["example"];
        }
        std::vector<std::string> found;
        if (example != nullptr) compare(*example, body, "", found);
        if (status == 204 && !body.is_null()) found.push_back("a 204 has a body: " + body.dump());
        for (const auto& line : found) out.push_back(prefix + line);
        return out;
    }
    if (status < 400) return out;
    const bool shaped = body.is_object() && body.contains("error") && body["error"].is_object() &&
                        body["error"].contains("code") && body["error"]["code"].is_string();
    if (!shaped) {
        out.push_back(prefix + "not the error shape {\"error\": {\"code\": ...}}: " + body.dump());
        return out;
    }
    const std::string code = body["error"]["code"];
    const auto codes = documented_codes(op, status);
    if (codes.empty()) return out;  // the description names no code to hold it to
    if (std::none_of(codes.begin(), codes.end(),
                     [&](const std::string& c) { return code_matches(c, code); })) {
        out.push_back(prefix + "error code " + code + " is not the document's (" + join(codes) +
                      ")");
    }
    return out;
}

std::string join(const std::vector<std::string>& lines) {
    std::string out;
    for (const auto& line : lines) out += (out.empty() ? "" : "; ") + line;
    return out;
}

}  // namespace vpsfleet::testing::contract
