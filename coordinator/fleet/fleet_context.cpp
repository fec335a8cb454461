#include "coordinator/fleet/fleet_context.hpp"

namespace vpsfleet::fleet {

std::shared_ptr<agent_session> fleet_context::attach(
    std::int64_t host_id, const std::shared_ptr<agent_session>& session) {
    std::lock_guard lock(mutex_);
    auto& slot = sessions_[host_id];
    auto previous = slot.lock();
    slot = session;
    return previous == session ? nullptr : previous;
}

void fleet_context::detach(std::int64_t host_id, const agent_session* session) {
    std::lock_guard lock(mutex_);
    auto it = sessions_.find(host_id);
    if (it == sessions_.end()) return;
    auto current = it->second.lock();
    if (!current || current.get() == session) sessions_.erase(it);
}

std::vector<std::shared_ptr<agent_session>> fleet_context::sessions() const {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<agent_session>> out;
    for (const auto& [id, weak] : sessions_) {
        if (auto s = weak.lock()) out.push_back(std::move(s));
    }
    return out;
}

void fleet_context::touched(std::int64_t host_id) {
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    touched_.try_emplace(host_id, now);
}

std::vector<std::pair<std::int64_t, std::chrono::steady_clock::time_point>>
fleet_context::take_touched() {
    std::lock_guard lock(mutex_);
    std::vector<std::pair<std::int64_t, std::chrono::steady_clock::time_point>> out(
        touched_.begin(), touched_.end());
    touched_.clear();
    return out;
}

void fleet_context::set_access(access_snapshot snapshot) {
    std::lock_guard lock(mutex_);
    access_ = std::move(snapshot);
    access_loaded_ = true;
}

bool fleet_context::refused(std::int64_t host_id, const std::string& serial) const {
    std::lock_guard lock(mutex_);
    return !access_loaded_ || access_.disabled_hosts.contains(host_id) ||
           access_.revoked_serials.contains(serial);
}

}  // namespace vpsfleet::fleet
