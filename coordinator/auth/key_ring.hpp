#pragma once
// The coordinator's signing and sealing keys, read from (or created in) the database the first
// time a request needs them; the schema may not exist yet when the process starts.
#include "coordinator/auth/access_tokens.hpp"
#include "coordinator/auth/secret_box.hpp"

#include <pqxx/pqxx>

#include <memory>
#include <mutex>

namespace vpsfleet::auth {

class key_ring {
  public:
    const token_signer& signer(pqxx::connection& conn);
    const secret_box& box(pqxx::connection& conn);

  private:
    void load(pqxx::connection& conn);

    std::mutex mutex_;
    std::unique_ptr<token_signer> signer_;
    std::unique_ptr<secret_box> box_;
};

}  // namespace vpsfleet::auth
