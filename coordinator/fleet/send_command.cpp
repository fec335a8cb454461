#include "coordinator/fleet/send_command.hpp"

#include "coordinator/fleet/commands.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace vpsfleet::fleet {

namespace asio = boost::asio;
using namespace std::chrono_literals;

asio::awaitable<command_outcome> send_command(store::database& db, std::int64_t host_id,
                                              std::string kind, nlohmann::json args,
                                              std::chrono::system_clock::time_point deadline) {
    auto submit = [host_id, &kind, &args, deadline](pqxx::connection& conn) {
        return submit_command(conn, host_id, kind, args, deadline);
    };
    const std::string id = co_await db.run(submit);
    asio::steady_timer timer(co_await asio::this_coro::executor);
    auto pause = std::chrono::milliseconds(10);
    for (;;) {
        auto read = [&id](pqxx::connection& conn) { return load_command(conn, id); };
        const auto state = co_await db.run(read);
        if (!state) throw std::runtime_error("fleet command " + id + " vanished");
        if (is_final(state->state)) {
            co_return command_outcome{id, state->state, state->result, state->error};
        }
        // Past its deadline an open command is expired here too, in case no sweep runs.
        if (std::chrono::system_clock::now() >= deadline) {
            auto expire = [](pqxx::connection& conn) { expire_commands(conn); };
            co_await db.run(expire);
        }
        timer.expires_after(pause);
        co_await timer.async_wait(asio::use_awaitable);
        pause = std::min<std::chrono::milliseconds>(pause * 2, 250ms);
    }
}

}  // namespace vpsfleet::fleet
