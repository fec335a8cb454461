// One suite of Driver behaviour, run against every backend: libvirt on test:/// and Proxmox VE
// (the fake node in tests/fakes/fake_proxmox). A backend gives a driver and a spec it can define.
#include "agent/driver/proxmox/proxmox_driver.hpp"
#include "tests/fakes/fake_proxmox.hpp"
#include "tests/unit/libvirt_test_host.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <memory>

namespace vpsfleet::testing {
namespace {

using namespace agent;
using driver::errc;

constexpr const char* k_other_uuid = "5c3e8f1a-9b2d-4c6e-8a7f-1d2e3f4a5b6c";

struct backend {
    virtual ~backend() = default;
    virtual driver::hypervisor& driver() = 0;
    virtual driver::vm_spec spec(const std::string& name, const std::string& uuid) = 0;
};

struct libvirt_backend : backend {
    libvirt_test_host host;
    driver::hypervisor& driver() override { return *host.driver; }
    driver::vm_spec spec(const std::string& name, const std::string& uuid) override {
        return libvirt_test_host::spec(name, uuid);
    }
};

struct proxmox_backend : backend {
    fake_proxmox pve;
    std::unique_ptr<proxmox::proxmox_driver> d;
    proxmox_backend() : pve(options()) {
        pve.add_template(9000, "debian-12", 2);
        proxmox::proxmox_options o;
        o.url = pve.url();
        o.node = pve.node();
        o.token_id = pve.token_id();
        o.token_secret = pve.token_secret();
        o.ca_pem = pve.ca_pem();
        o.task_poll = std::chrono::milliseconds(10);
        o.request_timeout = std::chrono::seconds(5);
        d = std::make_unique<proxmox::proxmox_driver>(o);
    }
    static fake_proxmox_options options() {
        fake_proxmox_options o;
        o.task_duration = std::chrono::milliseconds(20);
        return o;
    }
    driver::hypervisor& driver() override { return *d; }
    driver::vm_spec spec(const std::string& name, const std::string& uuid) override {
        auto s = libvirt_test_host::spec(name, uuid);
        s.disks[0].pool = "local-lvm";
        s.disks[0].image = driver::image_ref{"local-lvm", "debian-12"};
        s.nics[0].network.reset();
        s.nics[0].bridge = "vmbr0";
        return s;
    }
};

class driver_contract : public ::testing::TestWithParam<std::string> {
  protected:
    void SetUp() override {
        if (GetParam() == "libvirt") {
            b_ = std::make_unique<libvirt_backend>();
        } else {
            b_ = std::make_unique<proxmox_backend>();
        }
    }
    driver::hypervisor& d() { return b_->driver(); }
    driver::vm_spec spec(const std::string& name = "vm1", const std::string& uuid = k_vm_uuid) {
        return b_->spec(name, uuid);
    }
    std::optional<driver::vm_status> listed(const std::string& uuid) {
        auto inv = d().inventory();
        EXPECT_TRUE(inv) << inv.error().message;
        if (!inv) return std::nullopt;
        for (const auto& vm : *inv) {
            if (vm.uuid == uuid) return vm;
        }
        return std::nullopt;
    }

    std::unique_ptr<backend> b_;
};

TEST_P(driver_contract, define_makes_a_shut_off_vm_that_inventory_lists) {
    auto defined = d().define(spec());
    ASSERT_TRUE(defined) << defined.error().message;
    EXPECT_EQ(defined->uuid, k_vm_uuid);
    EXPECT_EQ(defined->name, "vm1");
    EXPECT_EQ(defined->state, "shutoff");
    EXPECT_FALSE(defined->config_hash.empty());
    const auto seen = listed(k_vm_uuid);
    ASSERT_TRUE(seen) << "inventory misses the defined VM";
    EXPECT_EQ(*seen, *defined);
}

TEST_P(driver_contract, define_again_updates_the_vm_and_its_config_hash) {
    auto first = d().define(spec());
    ASSERT_TRUE(first) << first.error().message;
    auto changed = spec();
    changed.memory_mib = 3072;
    auto second = d().define(changed);
    ASSERT_TRUE(second) << second.error().message;
    EXPECT_EQ(second->uuid, first->uuid);
    EXPECT_NE(second->config_hash, first->config_hash);
    auto inv = d().inventory();
    ASSERT_TRUE(inv);
    EXPECT_EQ(std::count_if(inv->begin(), inv->end(),
                            [](const driver::vm_status& s) { return s.uuid == k_vm_uuid; }),
              1);
}

TEST_P(driver_contract, define_refuses_a_name_another_vm_has) {
    ASSERT_TRUE(d().define(spec("vm1", k_vm_uuid)));
    auto clash = d().define(spec("vm1", k_other_uuid));
    ASSERT_FALSE(clash);
    EXPECT_EQ(clash.error().code, errc::name_clash) << clash.error().message;
    EXPECT_NE(clash.error().message.find("vm1"), std::string::npos) << clash.error().message;
}

TEST_P(driver_contract, power_actions_follow_the_lifecycle_and_are_idempotent) {
    ASSERT_TRUE(d().define(spec()));
    auto reboot_off = d().reboot(k_vm_uuid);
    ASSERT_FALSE(reboot_off);
    EXPECT_EQ(reboot_off.error().code, errc::invalid_state);
    EXPECT_EQ(d().reset(k_vm_uuid).error().code, errc::invalid_state);

    auto started = d().start(k_vm_uuid);
    ASSERT_TRUE(started) << started.error().message;
    EXPECT_EQ(started->state, "running");
    auto again = d().start("vm1");
    ASSERT_TRUE(again) << again.error().message;
    EXPECT_EQ(again->state, "running");
    auto rebooted = d().reboot(k_vm_uuid);
    ASSERT_TRUE(rebooted) << rebooted.error().message;
    EXPECT_EQ(rebooted->state, "running");
    auto reset = d().reset(k_vm_uuid);
    ASSERT_TRUE(reset) << reset.error().message;
    EXPECT_EQ(reset->state, "running");

    auto down = d().shutdown(k_vm_uuid, std::chrono::seconds(5));
    ASSERT_TRUE(down) << down.error().message;
    EXPECT_EQ(down->vm.state, "shutoff");
    EXPECT_FALSE(down->forced);
    auto down_again = d().shutdown(k_vm_uuid, std::chrono::seconds(5));
    ASSERT_TRUE(down_again) << down_again.error().message;
    EXPECT_EQ(down_again->vm.state, "shutoff");

    ASSERT_TRUE(d().start(k_vm_uuid));
    auto stopped = d().stop(k_vm_uuid);
    ASSERT_TRUE(stopped) << stopped.error().message;
    EXPECT_EQ(stopped->state, "shutoff");
    auto stopped_again = d().stop(k_vm_uuid);
    ASSERT_TRUE(stopped_again) << stopped_again.error().message;
    EXPECT_EQ(stopped_again->state, "shutoff");
    EXPECT_EQ(listed(k_vm_uuid)->state, "shutoff");
}

TEST_P(driver_contract, undefine_removes_a_running_vm) {
    ASSERT_TRUE(d().define(spec()));
    ASSERT_TRUE(d().start(k_vm_uuid));
    auto gone = d().undefine(k_vm_uuid, false);
    ASSERT_TRUE(gone) << gone.error().message;
    EXPECT_FALSE(listed(k_vm_uuid));
    auto again = d().undefine(k_vm_uuid, false);
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, errc::not_found);
    auto start = d().start(k_vm_uuid);
    ASSERT_FALSE(start);
    EXPECT_EQ(start.error().code, errc::not_found);
    EXPECT_NE(start.error().message.find(k_vm_uuid), std::string::npos) << start.error().message;
}

TEST_P(driver_contract, a_stopped_vm_takes_new_vcpus_and_memory_and_disks_never_shrink) {
    auto before = d().define(spec());
    ASSERT_TRUE(before) << before.error().message;
    auto r = d().resize(k_vm_uuid, {.vcpus = 3, .memory_mib = 3072, .disk_bytes = {}});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(r->pending_restart.empty());
    EXPECT_NE(r->vm.config_hash, before->config_hash);
    ASSERT_TRUE(d().start(k_vm_uuid));
    auto s = d().stats();
    ASSERT_TRUE(s) << s.error().message;
    const auto vm = std::find_if(s->vms.begin(), s->vms.end(),
                                 [](const driver::vm_stats& v) { return v.uuid == k_vm_uuid; });
    ASSERT_NE(vm, s->vms.end());
    EXPECT_EQ(vm->vcpus, 3u);

    auto shrink =
        d().resize(k_vm_uuid, {.vcpus = {}, .memory_mib = {}, .disk_bytes = {{0, 1ull << 30}}});
    ASSERT_FALSE(shrink);
    EXPECT_EQ(shrink.error().code, errc::invalid_argument);
    EXPECT_NE(shrink.error().message.find("only grow"), std::string::npos)
        << shrink.error().message;
}

TEST_P(driver_contract, snapshots_create_list_revert_and_delete) {
    ASSERT_TRUE(d().define(spec()));
    ASSERT_TRUE(d().start(k_vm_uuid));
    auto s1 = d().create_snapshot(k_vm_uuid, "before-upgrade", "kernel 6.1");
    ASSERT_TRUE(s1) << s1.error().message;
    EXPECT_EQ(s1->name, "before-upgrade");
    EXPECT_EQ(s1->description, "kernel 6.1");
    EXPECT_EQ(s1->state, "running");
    EXPECT_GT(s1->created_at, 0);
    ASSERT_TRUE(d().stop(k_vm_uuid));
    ASSERT_TRUE(d().create_snapshot(k_vm_uuid, "after-upgrade", ""));

    auto list = d().list_snapshots(k_vm_uuid);
    ASSERT_TRUE(list) << list.error().message;
    ASSERT_EQ(list->size(), 2u);
    EXPECT_EQ((*list)[0].name, "before-upgrade");
    EXPECT_EQ((*list)[1].name, "after-upgrade");
    EXPECT_EQ((*list)[1].parent, "before-upgrade");
    EXPECT_TRUE((*list)[1].current);
    EXPECT_FALSE((*list)[0].current);
    EXPECT_EQ((*list)[1].state, "shutoff");

    auto clash = d().create_snapshot(k_vm_uuid, "before-upgrade", "");
    ASSERT_FALSE(clash);
    EXPECT_EQ(clash.error().code, errc::name_clash) << clash.error().message;
    auto bad_name = d().create_snapshot(k_vm_uuid, "../etc", "");
    ASSERT_FALSE(bad_name);
    EXPECT_EQ(bad_name.error().code, errc::invalid_argument) << bad_name.error().message;

    auto reverted = d().revert_snapshot(k_vm_uuid, "before-upgrade");
    ASSERT_TRUE(reverted) << reverted.error().message;
    EXPECT_EQ(reverted->state, "running");

    ASSERT_TRUE(d().delete_snapshot(k_vm_uuid, "before-upgrade"));
    list = d().list_snapshots(k_vm_uuid);
    ASSERT_TRUE(list);
    ASSERT_EQ(list->size(), 1u);
    EXPECT_EQ((*list)[0].name, "after-upgrade");
    auto missing = d().revert_snapshot(k_vm_uuid, "before-upgrade");
    ASSERT_FALSE(missing);
    EXPECT_EQ(missing.error().code, errc::not_found);
    EXPECT_NE(missing.error().message.find("before-upgrade"), std::string::npos);
    EXPECT_EQ(d().delete_snapshot(k_vm_uuid, "nope").error().code, errc::not_found);
}

TEST_P(driver_contract, a_console_needs_a_running_vm) {
    ASSERT_TRUE(d().define(spec()));
    auto off = d().console(k_vm_uuid, std::chrono::seconds(30));
    ASSERT_FALSE(off);
    EXPECT_EQ(off.error().code, errc::invalid_state) << off.error().message;
}

TEST_P(driver_contract, stats_and_facts_describe_the_host_and_its_running_vms) {
    ASSERT_TRUE(d().define(spec()));
    ASSERT_TRUE(d().start(k_vm_uuid));
    auto facts = d().facts();
    ASSERT_TRUE(facts) << facts.error().message;
    EXPECT_FALSE(facts->hostname.empty());
    EXPECT_GT(facts->cpus, 0u);
    EXPECT_GT(facts->memory_bytes, 0u);
    EXPECT_GE(facts->domains_by_state["running"], 1u);

    auto s = d().stats();
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_GT(s->host.memory_total_bytes, 0u);
    const auto vm = std::find_if(s->vms.begin(), s->vms.end(),
                                 [](const driver::vm_stats& v) { return v.uuid == k_vm_uuid; });
    ASSERT_NE(vm, s->vms.end());
    EXPECT_EQ(vm->name, "vm1");
    EXPECT_EQ(vm->state, "running");
    EXPECT_EQ(vm->vcpus, 2u);
    EXPECT_GT(vm->max_memory_bytes, 0u);
}

TEST_P(driver_contract, every_operation_on_an_unknown_vm_says_not_found) {
    const std::string vm = "ghost";
    auto check = [&](const char* what, const auto& r) {
        ASSERT_FALSE(r) << what << " succeeded on an unknown VM";
        EXPECT_EQ(r.error().code, errc::not_found) << what << ": " << r.error().message;
        EXPECT_NE(r.error().message.find(vm), std::string::npos)
            << what << ": " << r.error().message;
    };
    check("start", d().start(vm));
    check("stop", d().stop(vm));
    check("shutdown", d().shutdown(vm, std::chrono::seconds(1)));
    check("reboot", d().reboot(vm));
    check("undefine", d().undefine(vm, false));
    check("resize", d().resize(vm, {}));
    check("snapshot", d().create_snapshot(vm, "s", ""));
    check("snapshots", d().list_snapshots(vm));
    check("revert", d().revert_snapshot(vm, "s"));
    check("console", d().console(vm, std::chrono::seconds(30)));
}

INSTANTIATE_TEST_SUITE_P(backends, driver_contract, ::testing::Values("libvirt", "proxmox"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace vpsfleet::testing
