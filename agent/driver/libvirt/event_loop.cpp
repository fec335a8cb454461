#include "agent/driver/libvirt/event_loop.hpp"

#include "common/log.hpp"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

namespace vpsfleet::agent::libvirt {

struct event_loop::impl {
    std::atomic<bool> stopping{false};
    std::promise<void> exited;
    std::thread thread;
};

namespace {

std::mutex g_mutex;
std::weak_ptr<event_loop> g_loop;

// A zero timeout fires at once and so wakes the loop from its poll; it removes itself.
void wake(int timer, void*) { virEventRemoveTimeout(timer); }

}  // namespace

event_loop::event_loop() : impl_(std::make_unique<impl>()) {
    static std::once_flag registered;
    std::call_once(registered, [] {
        if (virEventRegisterDefaultImpl() != 0)
            log::error("cannot register libvirt's event loop",
                       {{"error", virGetLastErrorMessage()}});
    });
    impl_->thread = std::thread([state = impl_.get()] {
        while (!state->stopping) {
            if (virEventRunDefaultImpl() != 0) {
                log::warn("libvirt event loop iteration failed",
                          {{"error", virGetLastErrorMessage()}});
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
        }
        state->exited.set_value();
    });
}

event_loop::~event_loop() {
    impl_->stopping = true;
    // Another loop starting meanwhile may take a wake-up meant for this one: wake until it ends.
    auto exited = impl_->exited.get_future();
    do {
        virEventAddTimeout(0, wake, nullptr, nullptr);
    } while (exited.wait_for(std::chrono::milliseconds(50)) != std::future_status::ready);
    impl_->thread.join();
}

std::shared_ptr<event_loop> event_loop::acquire() {
    std::lock_guard lock(g_mutex);
    if (auto loop = g_loop.lock()) return loop;
    std::shared_ptr<event_loop> loop(new event_loop());
    g_loop = loop;
    return loop;
}

}  // namespace vpsfleet::agent::libvirt
