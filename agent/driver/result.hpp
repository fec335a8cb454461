#pragma once
// The value-or-error every driver operation returns. The error code is stable and maps one-to-one
// to a fleet command error code; the message is the hypervisor's own, for a person to act on.
#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace vpsfleet::agent::driver {

enum class errc {
    not_found,         // no such VM, snapshot, pool or image
    name_clash,        // another VM (or snapshot) already has that name
    pool_full,         // the storage pool has no room for the volume
    invalid_argument,  // the spec or arguments cannot be used
    invalid_state,     // the VM is not in a state the operation accepts
    no_guest_agent,    // the guest has no qemu-guest-agent answering
    unsupported,       // this hypervisor (or its driver) cannot do it
    timeout,           // the hypervisor did not finish in time
    unavailable,       // the hypervisor cannot be reached
    failed,            // anything else the hypervisor refused
};

// "not_found", "pool_full", ...: the command error code.
std::string_view to_string(errc code);

struct error {
    errc code = errc::failed;
    std::string message;
};
// The same type under a name result<T> can use without clashing with its error() member.
using error_t = error;

template <class T>
class [[nodiscard]] result {
  public:
    result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
    result(error_t e) : v_(std::in_place_index<1>, std::move(e)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() & {
        assert(ok());
        return std::get<0>(v_);
    }
    const T& value() const& {
        assert(ok());
        return std::get<0>(v_);
    }
    T&& value() && {
        assert(ok());
        return std::get<0>(std::move(v_));
    }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    const error_t& error() const {
        assert(!ok());
        return std::get<1>(v_);
    }

  private:
    std::variant<T, error_t> v_;
};

template <>
class [[nodiscard]] result<void> {
  public:
    result() = default;
    result(error_t e) : error_(std::move(e)), ok_(false) {}

    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const error_t& error() const {
        assert(!ok_);
        return error_;
    }

  private:
    error_t error_;
    bool ok_ = true;
};

inline error make_error(errc code, std::string message) { return {code, std::move(message)}; }

}  // namespace vpsfleet::agent::driver
