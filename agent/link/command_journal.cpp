#include "agent/link/command_journal.hpp"

#include "common/pki.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <stdexcept>

namespace vpsfleet::agent::link {

namespace {

nlohmann::json to_json(const protocol::command_result& r) {
    nlohmann::json j{{"command_id", r.command_id}, {"ok", r.ok}};
    if (r.result) j["result"] = *r.result;
    if (r.error) j["error"] = {{"code", r.error->code}, {"message", r.error->message}};
    return j;
}

protocol::command_result from_json(const nlohmann::json& j) {
    protocol::command_result r;
    r.command_id = j.at("command_id").get<std::string>();
    r.ok = j.at("ok").get<bool>();
    if (j.contains("result")) r.result = j["result"];
    if (j.contains("error")) {
        r.error = protocol::command_error{j["error"].at("code").get<std::string>(),
                                          j["error"].at("message").get<std::string>()};
    }
    return r;
}

}  // namespace

command_journal::command_journal(std::string path, std::size_t capacity)
    : path_(std::move(path)), capacity_(capacity) {
    if (!std::filesystem::exists(path_)) return;
    try {
        for (const auto& entry : nlohmann::json::parse(pki::read_file(path_)))
            entries_.push_back(from_json(entry));
    } catch (const std::exception& e) {
        throw std::runtime_error("command journal " + path_ + " is unreadable: " + e.what());
    }
}

std::optional<protocol::command_result> command_journal::find(const std::string& command_id) const {
    for (const auto& entry : entries_) {
        if (entry.command_id == command_id) return entry;
    }
    return std::nullopt;
}

void command_journal::record(const protocol::command_result& result) {
    entries_.push_back(result);
    while (entries_.size() > capacity_) entries_.pop_front();
    save();
}

std::vector<std::string> command_journal::ids() const {
    std::vector<std::string> out;
    for (const auto& entry : entries_) out.push_back(entry.command_id);
    return out;
}

void command_journal::save() const {
    nlohmann::json all = nlohmann::json::array();
    for (const auto& entry : entries_) all.push_back(to_json(entry));
    pki::write_private_file(path_, all.dump());
}

}  // namespace vpsfleet::agent::link
