#pragma once
// The agent's memory of commands it has finished: their ids and results, kept on disk (bounded,
// oldest dropped first) so that a command the coordinator re-sends after a lost link or an agent
// restart returns its first result instead of running a second time.
#include "protocol/messages.hpp"

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <vector>

namespace vpsfleet::agent::link {

class command_journal {
  public:
    // Loads `path` if it exists; a journal that cannot be read is an error, not an empty one,
    // because forgetting results would let commands run twice.
    explicit command_journal(std::string path, std::size_t capacity = 1000);

    std::optional<protocol::command_result> find(const std::string& command_id) const;
    // Persists before returning: the result is only sent once it is on disk.
    void record(const protocol::command_result& result);
    std::vector<std::string> ids() const;

  private:
    void save() const;

    std::string path_;
    std::size_t capacity_;
    std::deque<protocol::command_result> entries_;
};

}  // namespace vpsfleet::agent::link
