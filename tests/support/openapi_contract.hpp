#pragma once
// The customer API's contract as its OpenAPI document states it (Suble v3,
// shared/seeds/001_712ea82ddb872eaf.txt): the request bodies an operation's schema refuses, and
// whether an answer has a status the document lists, every key of its example with the same JSON
// type, and an error code the document names. Endpoint tests call the real API and hand the
// answer to check_response.
#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace vpsfleet::testing::contract {

// One operation of the document, by its method and templated path as the document writes them
// ("POST", "/projects/{project}/instances"). The API serves the path under /api/v1.
struct operation {
    std::string method;
    std::string path;
    const nlohmann::json* spec = nullptr;  // the operation object in the loaded document

    std::string name() const;  // "POST /projects/{project}/instances"
    // "/api/v1" + the path with each {param} replaced by its value.
    std::string target(const std::map<std::string, std::string>& params = {}) const;
    bool has_request_body() const;
};

// The document, read once from <source>/../shared/seeds/; throws, naming the path, when it is
// missing or not JSON.
const nlohmann::json& customer_document();

// The operation, or nullopt when the document does not have it (method in any case).
std::optional<operation> find_operation(const std::string& method, const std::string& path);

struct rejected_body {
    std::string why;  // what is wrong with it, e.g. "`plan` is a number, the schema says string"
    nlohmann::json body;
};

// Bodies the operation's request schema refuses, each one defect away from `valid` (the
// document's request example when not given): each required property left out, each typed
// property given another JSON type, an enum property given a value outside it, and bodies that
// are not objects. Empty for an operation without a request body. Throws if `valid` lacks a
// required property (it would not be one defect away from a valid body).
std::vector<rejected_body> rejected_bodies(const operation& op);
std::vector<rejected_body> rejected_bodies(const operation& op, const nlohmann::json& valid);

// What in an answer disagrees with the document, one readable line each ("<op> <status>: ...");
// empty when it agrees. `body` is the parsed JSON (null when there was none); pass a non-JSON
// body (a PDF) as a JSON string.
//  - the status must be one the document lists for the operation;
//  - a 2xx with an example: every key of the example, recursively, is in the body with the same
//    JSON type (integers and floats are both "number"; a null in the example matches anything;
//    arrays compare their first elements when both have one); a 204 has no body;
//  - an error: the body is {"error": {"code": ...}} and the code is one the status's description
//    names ("invalid_request — ..."), when it names one.
std::vector<std::string> check_response(const operation& op, int status,
                                        const nlohmann::json& body);

// The error codes a status's description names, as written ("billing_<reason>" is a pattern
// whose <...> stands for any lowercase word); empty when the description names none.
std::vector<std::string> documented_codes(const operation& op, int status);
bool code_matches(const std::string& documented, const std::string& code);

std::string join(const std::vector<std::string>& lines);

}  // namespace vpsfleet::testing::contract
