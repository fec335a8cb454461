#pragma once
// A fake MikroTik router for tests: RouterOS v7's REST API for `/rest/ip/arp` (GET list, GET one,
// PUT add, PATCH set, DELETE remove) on 127.0.0.1 and a free port, over HTTP or, given a
// certificate, HTTPS, served by a thread of its own. Like RouterOS it checks HTTP Basic auth,
// validates what it is sent, answers errors as {"error":400,"message":"Bad Request","detail":...}
// and every value as a string. Counters say what was called.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace vpsfleet::testing {

struct fake_routeros_options {
    std::string user = "api";
    std::string password = "s3cret:pw";
    std::vector<std::string> interfaces = {"ether1", "bridge-vms"};
    // Both set: serve HTTPS with this certificate (chain) and key.
    std::string certificate_pem;
    std::string private_key_pem;
};

struct fake_arp_row {
    std::string id;  // "*1", "*2", ... (upper-case hex)
    std::string address;
    std::string mac_address;  // upper case, as RouterOS shows it
    std::string interface;
    std::string comment;
};

struct fake_routeros_calls {
    std::size_t list = 0;    // GET /rest/ip/arp
    std::size_t get = 0;     // GET /rest/ip/arp/<id>
    std::size_t add = 0;     // PUT
    std::size_t set = 0;     // PATCH
    std::size_t remove = 0;  // DELETE
    std::size_t unauthorized = 0;
    std::size_t rejected = 0;  // answered 4xx other than 401
};

class fake_routeros {
  public:
    explicit fake_routeros(fake_routeros_options options = {});
    ~fake_routeros();
    fake_routeros(const fake_routeros&) = delete;
    fake_routeros& operator=(const fake_routeros&) = delete;

    std::uint16_t port() const;
    std::string url() const;    // http(s)://127.0.0.1:PORT
    std::string token() const;  // user:password

    std::vector<fake_arp_row> arp_table() const;
    fake_routeros_calls calls() const;
    // Every answer waits this long first (a slow or hung router).
    void set_delay(std::chrono::milliseconds delay);

  private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace vpsfleet::testing
