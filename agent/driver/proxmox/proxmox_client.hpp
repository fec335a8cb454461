#pragma once
// A blocking client for the Proxmox VE HTTP API (`https://HOST:8006/api2/json`) over Beast and
// OpenSSL: API token or ticket authentication (with the CSRF token on writes, and a new login when
// the ticket expires), the node's CA pinned from a PEM or the system store, one connection per
// request with a deadline on each. Every failure becomes a driver error: transport and 595 ->
// unavailable, 401 -> unavailable naming the credentials, 400 -> invalid_argument with PVE's
// per-parameter reasons, 500 -> a code guessed from PVE's message (which is kept verbatim).
// Tasks (UPIDs) are followed by polling their status until they stop or a deadline passes.
#include "agent/driver/result.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace vpsfleet::agent::proxmox {

using driver::result;

struct proxmox_options {
    std::string url;  // https://HOST[:PORT]; the API lives under /api2/json
    std::string node;
    std::string token_id;  // user@realm!tokenid ...
    std::string token_secret;
    std::string user;  // ... or user@realm and password for tickets
    std::string password;
    std::string ca_pem;  // trust only this CA; empty: the system store
    std::chrono::milliseconds request_timeout{30'000};
    std::chrono::milliseconds task_poll{200};
    std::chrono::milliseconds task_timeout{600'000};
};

// Ordered (name, value) parameters, form-encoded on the wire.
using pve_params = std::vector<std::pair<std::string, std::string>>;

// A UPID's progress as the task status reports it.
using task_progress = std::function<void(const std::string& upid, const std::string& status)>;

class proxmox_client {
  public:
    explicit proxmox_client(proxmox_options options);
    ~proxmox_client();
    proxmox_client(const proxmox_client&) = delete;
    proxmox_client& operator=(const proxmox_client&) = delete;

    const proxmox_options& options() const;
    std::string host() const;  // the HOST of the url

    // `path` is below /api2/json ("/nodes/pve/qemu"); the answer is the `data` member.
    result<nlohmann::json> get(const std::string& path, const pve_params& params = {});
    result<nlohmann::json> post(const std::string& path, const pve_params& params = {});
    result<nlohmann::json> put(const std::string& path, const pve_params& params = {});
    result<nlohmann::json> del(const std::string& path, const pve_params& params = {});

    // Polls the task until it stops: its exitstatus "OK" is success, anything else an error
    // carrying that exitstatus. errc::timeout when `timeout` passes first (0: the default).
    result<void> wait_task(const std::string& upid,
                           std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
    // A call that answers a UPID, then wait_task.
    result<void> run(result<nlohmann::json> upid,
                     std::chrono::milliseconds timeout = std::chrono::milliseconds(0));
    void on_progress(task_progress progress);

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

// "a b/c" -> "a%20b%2Fc": everything but RFC 3986's unreserved characters escaped.
std::string url_encode(const std::string& text);

}  // namespace vpsfleet::agent::proxmox
